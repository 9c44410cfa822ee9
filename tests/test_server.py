"""``python app.py`` serves on gunicorn: HTTP, Socket.IO over WebSocket, live pushes, clean logs.

One real server process on a small seeded demo instance, driven as a TV and an ingesting CRM would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import socketio

from scoreboard.server import RedactTokens, gunicorn_options, redact

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def tv_client(url: str, secret: str, boards: list[dict]) -> socketio.Client:
    """A TV connected over the WebSocket transport, collecting its ``board`` events in ``boards``."""
    tv = socketio.Client()
    tv.on("board", boards.append, namespace="/live")
    tv.connect(url, namespaces=["/live"], transports=["websocket"], auth={"token": secret}, wait_timeout=20)
    return tv


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHDAY_")} | {
        "MATCHDAY_INSTANCE_PATH": str(tmp_path / "instance"),
        "MATCHDAY_PORT": str(port),
        "MATCHDAY_DEMO_REPS": "4",
        "MATCHDAY_DEMO_QUARTERS": "1",
        "MATCHDAY_SIMULATOR": "false",
        "MATCHDAY_SERVER_THREADS": "16",
        "MATCHDAY_LIVE_PUSH_INTERVAL": "0.01",
    }
    proc = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    while True:
        assert proc.poll() is None, "".join(lines)
        assert time.monotonic() - started < 120, "server did not start:\n" + "".join(lines)
        try:
            if requests.get(url + "/login", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.url, proc.lines, proc.env = url, lines, env  # type: ignore[attr-defined]
    yield proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(30)
    reader.join(5)
    proc.stdout.close()


def test_app_py_serves_http_and_websocket_on_gunicorn(server):
    output = lambda: "".join(server.lines)  # noqa: E731
    # HTTP, with a Server header that names no version, and no development server anywhere
    resp = requests.get(server.url + "/login", timeout=5)
    assert resp.status_code == 200 and "Logg inn i Matchday" in resp.text  # the demo org speaks Norwegian
    assert resp.headers["Server"] == "gunicorn"
    assert not re.search(r"\d", resp.headers["Server"])
    assert "Using worker: gthread" in output()
    assert "Werkzeug" not in output() and "development server" not in output()

    tv_url = re.search(r"Sales-floor TV:\s+(\S+)", output()).group(1)
    secret = tv_url.rsplit("/", 1)[1]
    assert requests.get(tv_url, timeout=10).status_code == 200

    # one gunicorn worker, and the live push process started once, by the worker (the child that
    # stores the demo's older deal history is gone once it is done)
    workers = children(server.pid)
    assert len(workers) == 1, [cmdline(p) for p in workers]
    deadline = time.monotonic() + 90
    while True:
        pushers = [p for p in children(workers[0]) if "multiprocessing.spawn" in cmdline(p)]
        if len(pushers) == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(pushers) == 1, [cmdline(p) for p in children(workers[0])]

    # a TV over the WebSocket transport gets its boards, and a new activity moves them
    boards: list[dict] = []
    tv = tv_client(server.url, secret, boards)
    try:
        assert tv.transport() == "websocket"
        deadline = time.monotonic() + 30
        while not boards and time.monotonic() < deadline:
            time.sleep(0.05)
        assert boards and boards[0]["title"], "no board on connect"
        first_version = max(b["version"] for b in boards)

        token = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "create-api-token"],
            cwd=ROOT,
            env=server.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.split()[-1]
        rep = re.search(r"Rep login:\s+(\S+)", output()).group(1)
        posted = requests.post(
            server.url + "/api/v1/events",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "events": [
                    {  # a won deal: revenue and the league table move
                        "type": "deal",
                        "source": "test",
                        "id": "served-1",
                        "owner": rep,
                        "name": "Fjord AS — platform",
                        "account": "Fjord AS",
                        "amount": 9_000_000,
                        "stage": "won",
                        "at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                    }
                ]
            },
            timeout=30,
        )
        assert posted.status_code == 200, posted.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(b["version"] > first_version for b in boards):
            time.sleep(0.05)
        assert any(b["version"] > first_version for b in boards), "no push after the activity"
    finally:
        tv.disconnect()

    # gunicorn replaces a worker that dies (kill -9): the new one serves, with its own push process
    workers = children(server.pid)
    os.kill(workers[0], 9)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = [p for p in children(server.pid) if p not in workers]
        if new:
            try:
                if requests.get(server.url + "/login", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
        time.sleep(0.2)
    else:
        raise AssertionError("no new worker served:\n" + "".join(server.lines))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pushers = [p for p in children(new[0]) if "multiprocessing.spawn" in cmdline(p)]
        if pushers:
            break
        time.sleep(0.1)
    assert len(pushers) == 1
    again: list[dict] = []
    tv = tv_client(server.url, secret, again)
    try:
        deadline = time.monotonic() + 30
        while not again and time.monotonic() < deadline:
            time.sleep(0.05)
        assert again and max(b["version"] for b in again) > first_version  # the won deal is there
    finally:
        tv.disconnect()

    server.terminate()
    server.wait(30)
    time.sleep(0.2)
    log = output()
    # the access log has the TV request, without its token
    assert re.search(r'"GET /tv/mdd_… HTTP/1.1" 200', log), log[-2000:]
    assert secret[4:] not in log.replace(tv_url, "")
    # a stop ends the push process with its worker: no "exited" error, no new process, no traceback
    stopping = log[log.rfind("Handling signal") :] if "Handling signal" in log else log
    assert "live push process exited" not in stopping and "Traceback" not in stopping, stopping[-3000:]


def test_gunicorn_settings_follow_the_config(sqlite_app):
    sqlite_app.config.update(HOST="::1", PORT=8123, SERVER_THREADS=300, SERVER_BACKLOG=4096)
    options = gunicorn_options(sqlite_app)
    assert options["bind"] == "[::1]:8123"
    assert (options["workers"], options["worker_class"], options["threads"]) == (1, "gthread", 300)
    assert options["backlog"] == 4096 and options["worker_connections"] >= 600
    assert redact("/tv/mdd_abc?x=mdk_Z9-_q") == "/tv/mdd_…?x=mdk_…"


def test_error_logs_mask_tokens_too():
    import io
    import logging

    stream = io.StringIO()
    logger = logging.getLogger("matchday-test-redact")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.addFilter(RedactTokens())
    logger.propagate = False
    logger.error("Exception on %s [%s]", "/tv/mdd_s3cretS3cret", "GET")
    logger.removeHandler(handler)
    assert stream.getvalue() == "Exception on /tv/mdd_… [GET]\n"


def test_ctrl_c_stops_the_server_and_its_push_process_quietly(tmp_path):
    """Ctrl+C reaches the whole process group: gunicorn, its worker and the push process. The push
    process leaves the stop to its parent: no traceback, no "push process exited", no new push
    process, and nothing of the group left running."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHDAY_")} | {
        "MATCHDAY_INSTANCE_PATH": str(tmp_path / "instance"),
        "MATCHDAY_PORT": str(port),
        "MATCHDAY_DEMO_REPS": "4",
        "MATCHDAY_DEMO_QUARTERS": "1",
        "MATCHDAY_SIMULATOR": "false",
        "MATCHDAY_SERVER_THREADS": "8",
    }
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        started = time.monotonic()
        while True:
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() - started < 120, "server did not start:\n" + "".join(lines)
            try:
                if requests.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        deadline = time.monotonic() + 60  # the push process is up (it reports ready after loading)
        while len(children(proc.pid)) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    reader.join(5)
    proc.stdout.close()
    log = "".join(lines)
    assert "Handling signal: int" in log, log[-2000:]
    assert "Traceback" not in log and "push process exited" not in log, log[-3000:]
    deadline = time.monotonic() + 15  # nothing of the group outlives it for long (no orphan)
    while alive := subprocess.run(
        ["pgrep", "-g", str(proc.pid)], capture_output=True, text=True
    ).stdout.split():
        assert time.monotonic() < deadline, alive
        time.sleep(0.2)
