"""First run and the CLI, as a person would use them: real processes on an empty instance."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHDAY_")}
    return env | {"MATCHDAY_INSTANCE_PATH": str(instance)} | extra


def matchday(instance: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=env_for(instance, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def counts(instance: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{instance / 'matchday.db'}")
    with engine.connect() as conn:
        result = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("rep", "team", "deal", "activity", "touch", "goal", '"user"')
        }
    engine.dispose()
    return result


def _setting(instance: Path, key: str) -> str | None:
    engine = create_engine(f"sqlite:///{instance / 'matchday.db'}")
    with engine.connect() as conn:
        value = conn.execute(text("SELECT value FROM setting WHERE key = :k"), {"k": key}).scalar()
    engine.dispose()
    return value


class Server:
    """``python app.py`` in its own process, on a free port."""

    def __init__(self, instance: Path, **extra: str):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env_for(instance, MATCHDAY_PORT=str(self.port), **extra),
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.output = ""

    def wait_until_serving(self, limit: float = 90) -> float:
        while time.perf_counter() - self.started < limit:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.proc.stdout.read()}")
            try:
                if requests.get(self.url + "/login", timeout=1).status_code == 200:
                    return time.perf_counter() - self.started
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError("server did not start")

    def stop(self) -> str:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=20)
        self.output += out
        return self.output


@pytest.mark.slow
def test_first_run_seeds_a_moving_demo_floor_and_a_restart_keeps_it(tmp_path):
    instance = tmp_path / "instance"
    server = Server(instance, MATCHDAY_SIM_TICK_SECONDS="0.5", MATCHDAY_SIM_EVENTS_PER_MINUTE="120")
    try:
        seconds = server.wait_until_serving()
        print(f"first start served after {seconds:.1f} s")
        seeded = counts(instance)
        assert seeded["rep"] >= 24 and seeded["team"] == 3 and seeded["activity"] > 20_000
        # Log in with the admin login the server printed, and see today's activity.
        session = requests.Session()
        login_page = session.get(server.url + "/login").text
        csrf = login_page.split('name="csrf_token" value="')[1].split('"')[0]
        resp = session.post(
            server.url + "/login",
            data={"email": "admin@matchday.demo", "password": "matchday-demo", "csrf_token": csrf},
        )
        assert resp.status_code == 200 and "I dag på gulvet" in resp.text  # the demo org speaks Norwegian
        time.sleep(4)  # the simulator moves the floor
        moved = counts(instance)
        assert moved["activity"] + moved["touch"] > seeded["activity"] + seeded["touch"]
    finally:
        output = server.stop()
    assert "Admin login:   admin@matchday.demo / matchday-demo" in output
    assert "serving on http://127.0.0.1:" in output
    tv_path = re.search(r"Sales-floor TV:\s+http://127\.0\.0\.1:\d+(/tv/\S+)", output).group(1)

    before = counts(instance)
    history_pending = _setting(instance, "demo_history_pending") == "1"  # stopped mid-way: resumes
    again = Server(instance, MATCHDAY_SIMULATOR="false")
    try:
        again.wait_until_serving()
        tv = requests.get(again.url + tv_path, timeout=10)  # the printed TV link opens, without a login
        assert tv.status_code == 200 and "League table" in tv.text
    finally:
        output = again.stop()
    assert "Seeded" not in output and "Sales-floor TV" not in output
    after = counts(instance)
    if history_pending:  # the demo's past quarters of deals, stored in the background, went on
        assert after["deal"] >= before["deal"]
        after["deal"] = before["deal"]
    assert after == before  # nothing seeded again, nothing else added


def test_cli_seeds_creates_logins_and_tokens_and_switches_the_simulator(tmp_path):
    instance = tmp_path / "instance"
    seeded = matchday(instance, "seed-demo", "--seed", "3", "--reps", "6", "--quarters", "1")
    assert seeded.returncode == 0, seeded.stderr
    assert "Seeded the demo org (seed 3)" in seeded.stdout
    assert counts(instance)["rep"] == 6 + 3  # six reps and three managers

    again = matchday(instance, "seed-demo")
    assert again.returncode != 0 and "--reset" in again.stderr

    user = matchday(
        instance,
        "create-user",
        "--email",
        "eva@acme.no",
        "--name",
        "Eva",
        "--role",
        "manager",
        "--password",
        "long enough",
    )
    assert user.returncode == 0 and "Created manager eva@acme.no" in user.stdout

    token = matchday(instance, "create-api-token", "--name", "hubspot")
    assert token.returncode == 0
    secret = token.stdout.strip().splitlines()[-1]
    assert secret.startswith("mdk_") and " " not in secret

    off = matchday(instance, "simulate", "off")
    assert off.returncode == 0 and "Simulator off." in off.stdout
    engine = create_engine(f"sqlite:///{instance / 'matchday.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM setting WHERE key='simulator'")).scalar_one() == "off"
    engine.dispose()

    # The printed token works against the API of a server on the same instance.
    from scoreboard import create_app

    app = create_app({"INSTANCE_PATH": str(instance), "DEMO": False, "SIMULATOR": False})
    resp = app.test_client().post(
        "/api/v1/events",
        headers={"Authorization": f"Bearer {secret}"},
        json={
            "events": [
                {
                    "type": "activity",
                    "source": "cli",
                    "id": "1",
                    "rep": "eva@acme.no",
                    "kind": "call",
                    "at": "2026-11-02T10:00:00+01:00",
                }
            ]
        },
    )
    assert resp.status_code == 200 and resp.get_json()["created"] == 1
