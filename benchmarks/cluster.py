"""``benchmarks/live.py --processes N``: live pushes with N web processes, the push worker, PostgreSQL, Redis.

    .venv/bin/python benchmarks/live.py --processes 2 --clients 500 --desks 200 --rate 1000 --seconds 60

Creates a fresh PostgreSQL database on ``MATCHDAY_TEST_POSTGRES``'s server (default
``postgresql://postgres@127.0.0.1:5432/test``; dropped at the end), seeds the demo org, and starts N web
processes (``python app.py``: gunicorn, each a real server on its own port) and ``matchday push-worker``
with the message queue ``MATCHDAY_TEST_REDIS`` (default ``redis://127.0.0.1:6379/15``, a channel of its
own). ``--client-processes`` processes each hold a share of the TVs and desk pages (python-socketio
``AsyncClient``s on one event loop per process), spread over the web processes as ``ip_hash`` would.

1. **Storm**: every client process starts connecting all of its clients at the same agreed moment;
   printed: the time until every client holds its full state (each TV all boards of the playlist, each
   desk page its boards), and how many never did.
2. **Latency**: meetings posted at ``--rate`` per second for ``--seconds`` to the web processes in turn;
   for every event and TV, the time from sending the POST to receiving a push of the "Meetings this week"
   board whose version includes the event (as in benchmarks/live.py). Beside it, a bare emit every
   500 ms from this process through the same Redis (Flask-SocketIO's write-only emitter), stamped with
   its send time: the floor of queue + web process + client in the same run.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("MATCHDAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MATCHDAY_TEST_REDIS", "redis://127.0.0.1:6379/15")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------- client processes


def clients_main(spec_file: str, out_file: str) -> None:
    """A client process: connect its clients at ``spec["start_at"]``, record, and on stdin's end write
    what it saw to ``out_file``."""
    import socketio

    spec = json.loads(Path(spec_file).read_text())
    start_at: float = spec["start_at"]
    results: list[dict[str, Any]] = []
    pings: list[float] = []

    async def one(i: int, client: dict[str, Any]) -> dict[str, Any]:
        want = set(client["boards"])
        got: set[int] = set()
        record: dict[str, Any] = {"kind": client["kind"], "full": None, "pushes": [], "error": None}
        sio = socketio.AsyncClient(reconnection=False)

        def on_board(state: dict[str, Any]) -> None:
            got.add(state["board"])
            if record["full"] is None and want <= got:
                record["full"] = time.time() - start_at
            if state["board"] == spec["board"]:
                record["pushes"].append((state["version"], time.time()))

        sio.on("board", on_board, namespace="/live")
        if i == 0:
            sio.on("bench_ping", lambda data: pings.append(time.time() - data["t"]), namespace="/live")
        try:
            await sio.connect(
                client["url"],
                namespaces=["/live"],
                auth=client["auth"],
                transports=["websocket"],
                headers={"Cookie": client["cookie"]} if client.get("cookie") else {},
                wait_timeout=120,
            )
        except Exception as exc:  # noqa: BLE001 - counted in the report
            record["error"] = repr(exc)
        record["sio"] = sio
        return record

    async def run() -> None:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        records = await asyncio.gather(*(one(i, c) for i, c in enumerate(spec["clients"])))
        print("connected", flush=True)
        await asyncio.get_running_loop().run_in_executor(
            None, sys.stdin.read
        )  # until the main process is done
        for record in records:
            sio = record.pop("sio")
            results.append(record)
            if sio.connected:
                await sio.disconnect()

    asyncio.run(run())
    Path(out_file).write_text(json.dumps({"clients": results, "pings": pings}))


# ------------------------------------------------------------------------------------ the orchestrator


def run_cluster(args: Any) -> None:
    import psycopg
    import requests
    from flask_socketio import SocketIO
    from sqlalchemy import text
    from sqlmodel import Session, select

    sys.path.insert(0, str(ROOT))
    from scoreboard import create_app, db
    from scoreboard.live import NAMESPACE
    from scoreboard.models import Board, Playlist, PlaylistBoard, Rep
    from scoreboard.seed import seed_demo_org
    from scoreboard.tokens import create_token

    tmp = Path(tempfile.mkdtemp(prefix="matchday-cluster-"))
    admin = psycopg.connect(PG_SERVER, autocommit=True)
    name = f"matchday_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = re.sub(r"/[^/]*$", f"/{name}", PG_SERVER)
    procs: list[subprocess.Popen[Any]] = []
    try:
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        app = create_app(
            {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "seed"), "DEMO": False, "SIMULATOR": False,
             "SECRET_KEY": "bench"}
        )  # fmt: skip
        started = time.perf_counter()
        summary = seed_demo_org(app, seed=7, reps=args.reps, quarters=args.quarters)
        engine = db.engine_for(app)
        with Session(engine) as s:
            playlist_id = s.exec(select(Playlist)).one().id
            tv_boards = sorted(
                int(i)
                for i in s.exec(
                    select(PlaylistBoard.board_id).where(PlaylistBoard.playlist_id == playlist_id)
                )
            )
            board = s.exec(select(Board).where(Board.stat == "meetings_booked")).one()
            shown = s.exec(select(Rep).where(Rep.role == "rep", Rep.active == True, Rep.tv_opt_out == False))  # noqa: E712
            reps = [r.email for r in shown]
            board.top_n = len(reps)  # every meeting changes the board the TVs see (see live.py)
            board_id = int(board.id)  # type: ignore[arg-type]
            s.add(board)
            s.commit()
        secret = create_token(engine, "display", "bench", playlist_id=playlist_id)[1]
        api = create_token(engine, "api", "bench")[1]
        print(f"seeded {args.reps} reps on PostgreSQL in {time.perf_counter() - started:.1f} s")

        channel = f"matchday-bench-{uuid.uuid4().hex[:8]}"
        per_process = (args.clients + args.desks) // args.processes + 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHDAY_")} | {
            "MATCHDAY_DATABASE_URL": url,
            "MATCHDAY_SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
            "MATCHDAY_SOCKETIO_CHANNEL": channel,
            "MATCHDAY_SECRET_KEY": "bench",
            "MATCHDAY_DEMO": "false",
            "MATCHDAY_SIMULATOR": "false",
            "MATCHDAY_SERVER_THREADS": str(per_process + 50),
            "MATCHDAY_ACCESS_LOG": "",
            "MATCHDAY_LOGIN_LIMIT_PER_ADDRESS": "1000 per minute",
            "PYTHONWARNINGS": "ignore",
        }
        urls = []
        for n in range(args.processes):
            port = free_port()
            log = open(tmp / f"web{n}.log", "w")  # noqa: SIM115 - closed with the process
            procs.append(
                subprocess.Popen(
                    [sys.executable, "app.py"],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env | {"MATCHDAY_PORT": str(port), "MATCHDAY_INSTANCE_PATH": str(tmp / f"web{n}")},
                )  # fmt: skip
            )
            urls.append(f"http://127.0.0.1:{port}")
        worker_log = tmp / "worker.log"
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "push-worker"],
                cwd=ROOT,
                stdout=open(worker_log, "w"),
                stderr=subprocess.STDOUT,  # noqa: SIM115
                env=env | {"MATCHDAY_INSTANCE_PATH": str(tmp / "worker")},
            )  # fmt: skip
        )
        deadline = time.monotonic() + 180
        for base in urls:
            while True:
                try:
                    if requests.get(base + "/login", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, "a web process did not start"
                time.sleep(0.3)
        while "Push worker ready" not in worker_log.read_text():
            assert time.monotonic() < deadline, worker_log.read_text()
            time.sleep(0.3)

        cookies = []
        manager = next(e for e, role, _ in summary.logins if role in ("manager", "admin"))
        for base in urls:  # one desk login per web process (a cookie signed by one is valid on all)
            session = requests.Session()
            token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(base + "/login").text).group(
                1
            )  # type: ignore[union-attr]
            resp = session.post(
                base + "/login",
                data={"email": manager, "password": app.config["DEMO_PASSWORD"], "csrf_token": token},
                allow_redirects=False,
            )
            assert resp.status_code == 302, resp.text
            cookies.append("; ".join(f"{k}={v}" for k, v in session.cookies.items()))
        desk_boards = [board_id]

        # spread the clients over client processes and web processes (as ip_hash would)
        clients = [
            {"kind": "tv", "url": urls[i % len(urls)], "auth": {"token": secret}, "boards": tv_boards}
            for i in range(args.clients)
        ] + [
            {"kind": "desk", "url": urls[i % len(urls)], "auth": {"boards": desk_boards},
             "cookie": cookies[i % len(urls)], "boards": desk_boards}
            for i in range(args.desks)
        ]  # fmt: skip
        start_at = time.time() + 8.0  # every client process has imported its libraries by then
        readers = []
        for k in range(args.client_processes):
            spec = tmp / f"clients{k}.json"
            spec.write_text(
                json.dumps(
                    {"start_at": start_at, "board": board_id, "clients": clients[k :: args.client_processes]}
                )
            )
            proc = subprocess.Popen(
                [sys.executable, __file__, str(spec), str(tmp / f"out{k}.json")], cwd=ROOT, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )  # fmt: skip
            readers.append(proc)
        for proc in readers:
            assert proc.stdout.readline().strip() == "connected"  # type: ignore[union-attr]
        print(f"{args.clients} TVs and {args.desks} desk pages connected over {args.processes} web processes")

        emitter = SocketIO(message_queue=REDIS_URL, channel=channel)  # the bare emit through the same Redis
        stop_pings = threading.Event()

        def ping() -> None:
            while not stop_pings.wait(0.5):
                emitter.emit("bench_ping", {"t": time.time()}, namespace=NAMESPACE)

        threading.Thread(target=ping, daemon=True).start()
        time.sleep(2)

        sent: list[tuple[float, int]] = []
        answered: list[float] = []  # POST round trips (committed and announced before the answer)
        errors: list[str] = []
        lock = threading.Lock()
        t0 = time.time()
        total = int(args.rate * args.seconds)

        def poster(k: int) -> None:
            session = requests.Session()
            headers = {"Authorization": f"Bearer {api}"}
            for n in range(k, total, args.posters):
                delay = t0 + n / args.rate - time.time()
                if delay > 0:
                    time.sleep(delay)
                event = {
                    "type": "activity", "source": "bench", "id": uuid.uuid4().hex, "rep": reps[n % len(reps)],
                    "kind": "meeting", "outcome": "booked", "at": datetime.now(UTC).isoformat(),
                }  # fmt: skip
                at = time.time()
                resp = session.post(
                    urls[n % len(urls)] + "/api/v1/events",
                    json={"events": [event]},
                    headers=headers,
                    timeout=60,
                )
                answered_at = time.time()
                if resp.status_code != 200:
                    errors.append(resp.text[:200])
                    continue
                with engine.connect() as conn:
                    revision = int(
                        conn.execute(text("SELECT value FROM setting WHERE key = 'data_revision'")).scalar()
                        or 0
                    )
                with lock:
                    sent.append((at, revision))
                    answered.append(answered_at - at)

        threads = [threading.Thread(target=poster, args=(k,)) for k in range(args.posters)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        posting = time.time() - t0
        time.sleep(3)
        stop_pings.set()
        for proc in readers:
            proc.stdin.close()  # type: ignore[union-attr]
        for proc in readers:
            proc.wait(120)
        outputs = [json.loads((tmp / f"out{k}.json").read_text()) for k in range(args.client_processes)]
        report(args, outputs, sent, answered, errors, posting)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def report(
    args: Any,
    outputs: list[dict[str, Any]],
    sent: list[tuple[float, int]],
    answered: list[float],
    errors: list[str],
    posting: float,
) -> None:
    records = [r for out in outputs for r in out["clients"]]
    pings = [p for out in outputs for p in out["pings"]]
    full = [r["full"] for r in records if r["full"] is not None]
    failed = [r for r in records if r["full"] is None]
    print(
        f"storm: {len(full)} of {len(records)} clients held their full state after "
        f"{max(full) if full else float('nan'):.2f} s (p50 {percentile(full, 50):.2f} s); "
        f"{len(failed)} never ({sum(1 for r in failed if r['error'])} connect errors) — aim ≤ 5 s"
    )
    latencies: list[float] = []
    missing = 0
    for r in records:
        if r["kind"] != "tv" or not r["pushes"]:
            continue
        versions = [v for v, _ in r["pushes"]]
        times = [t for _, t in r["pushes"]]
        best = [min(times[j:]) for j in range(len(times))]
        for at, revision in sent:
            j = bisect.bisect_left(versions, revision)
            if j == len(versions):
                missing += 1
                continue
            latencies.append(max(0.0, best[j] - at))
    print(
        f"posted {len(sent)} events in {posting:.1f} s ({len(sent) / posting:.0f}/s), {len(errors)} errors; events not covered: {missing}"
    )
    print(f"{'':32} {'p50':>9} {'p95':>9} {'p99':>9} {'n':>8}")
    rows = (
        ("POST → board push at TV", latencies),
        ("  of which the POST round trip", answered),
        ("bare emit via Redis → receipt", pings),
    )
    for label, values in rows:
        if values:
            p = [percentile(values, q) * 1000 for q in (50, 95, 99)]
            print(f"{label:32} {p[0]:7.1f}ms {p[1]:7.1f}ms {p[2]:7.1f}ms {len(values):8d}")
    print("aim: p95 ≤ 100 ms, p99 ≤ 250 ms")


if __name__ == "__main__":
    clients_main(sys.argv[1], sys.argv[2])
