"""deploy/: the nginx configuration passes ``nginx -t`` (where nginx is installed) and keeps what
several processes need; the systemd units restart what they run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        pytest.skip("nginx is not installed")
    (tmp_path / "logs").mkdir()
    result = subprocess.run(
        [nginx, "-t", "-c", str(DEPLOY / "nginx.conf"), "-p", str(tmp_path),
         "-g", f"pid {tmp_path / 'nginx.pid'}; error_log {tmp_path / 'logs' / 'error.log'};"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_upstream_is_sticky_and_socket_io_upgrades_to_websocket() -> None:
    for name in ("nginx.conf", "nginx-compose.conf"):
        conf = (DEPLOY / name).read_text()
        upstream = re.search(r"upstream matchday \{(.*?)\}", conf, re.S).group(1)  # type: ignore[union-attr]
        assert "ip_hash;" in upstream and len(re.findall(r"^\s*server ", upstream, re.M)) == 2
    locations = (DEPLOY / "matchday-locations.conf").read_text()
    socket_io = re.search(r"location /socket.io \{(.*?)\}", locations, re.S).group(1)  # type: ignore[union-attr]
    assert "proxy_set_header Upgrade $http_upgrade;" in socket_io
    assert "proxy_set_header Connection $connection_upgrade;" in socket_io
    assert "proxy_http_version 1.1;" in socket_io


def test_systemd_restarts_the_web_processes_and_the_push_worker() -> None:
    worker = (DEPLOY / "systemd" / "matchday-push-worker.service").read_text()
    web = (DEPLOY / "systemd" / "matchday-web@.service").read_text()
    assert "ExecStart=/opt/matchday/.venv/bin/matchday push-worker" in worker
    assert "ExecStart=/opt/matchday/.venv/bin/matchday serve" in web
    assert "Restart=always" in worker and "Restart=always" in web
    compose = (DEPLOY / "compose.yaml").read_text()
    assert compose.count('command: ["matchday", "serve"]') == 2
    assert 'command: ["matchday", "push-worker"]' in compose and "restart: unless-stopped" in compose


def test_the_push_worker_refuses_to_start_without_a_message_queue(tmp_path: Path) -> None:
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHDAY_")} | {
        "MATCHDAY_INSTANCE_PATH": str(tmp_path / "instance"),
        "MATCHDAY_DEMO": "false",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "push-worker"],
        cwd=DEPLOY.parent, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "MATCHDAY_SOCKETIO_MESSAGE_QUEUE" in result.stderr and "Traceback" not in result.stderr
