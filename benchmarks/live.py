"""Live push latency: 50 TV clients, events posted at 100 per second for 60 s.

    .venv/bin/python benchmarks/live.py [--clients 50] [--rate 100] [--seconds 60] [--reps 24]
    .venv/bin/python benchmarks/live.py --processes 2 --clients 500 --desks 200 --rate 1000 --seconds 60

With ``--processes N`` it runs the several-process arrangement instead (see benchmarks/cluster.py): N
web processes, ``matchday push-worker``, PostgreSQL and Redis, clients spread over client processes,
and the storm (time until every client holds its full state).

Seeds the demo org into a fresh SQLite instance, serves it in a separate process (werkzeug, threaded,
like ``python app.py``: pushes computed in its push process, at most one per 50 ms; the environment
variables ``MATCHDAY_LIVE_PROCESS=0`` and ``MATCHDAY_LIVE_PUSH_INTERVAL=<seconds>`` change that for a
comparison) and connects ``--clients`` python-socketio clients with a display token for
the "Sales floor" playlist. Poster threads send one meeting (an activity) per request to
``POST /api/v1/events``; each meeting changes the "Meetings this week" board (its top N is set to
every rep shown on TV, and only those reps book meetings). For every event and
every client it measures the time from sending the POST to receiving a ``board`` push for that board
whose version includes the event (version ≥ the data revision read right after the response, so the
figure errs on the slow side). Beside it, the server process emits a bare Socket.IO event stamped
with its send time every 500 ms to all clients: the emit-to-receipt floor of this machine in the same
run. Prints p50/p95/p99 of both and their ratio, and the server's push cycle (one catch-up of the
frames, the boards the batch touched, the emits) with how many batches each cycle coalesced.
Aim: p95 ≤ 100 ms, p99 ≤ 250 ms.

The clients are python-socketio ``AsyncClient``s sharing one event loop in one thread (aiohttp's
WebSocket, which checks each frame natively): 50 threaded clients in one process contend for its
GIL and measured mostly this rig (bare emit p95 45 ms, vs 10 ms unloaded). TVs are browsers, each
its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import logging
import os
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
sys.path.insert(0, str(ROOT))


def serve(database_url: str, instance: str) -> None:
    """The server process: the app, plus a bare emit every 500 ms stamped with its send time, and
    its push worker's cycle times written to ``push-timings.txt`` in the instance folder."""
    from werkzeug.serving import make_server

    from scoreboard import create_app
    from scoreboard.live import NAMESPACE, hub_for

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise here
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": instance,
            "DEMO": False,
            "SIMULATOR": False,
            "LIVE_PROCESS": os.environ.get("MATCHDAY_LIVE_PROCESS", "1") == "1",  # as ``python app.py``
            "LIVE_PUSH_INTERVAL": float(os.environ.get("MATCHDAY_LIVE_PUSH_INTERVAL", "0.05")),
        }
    )
    hub = hub_for(app)
    hub.wait_ready()  # the push process starts (and loads its frames) before any client connects

    def ping() -> None:
        while True:
            time.sleep(0.5)
            hub.server.emit("bench_ping", {"t": time.time()}, namespace=NAMESPACE)

    threading.Thread(target=ping, daemon=True).start()

    def report() -> None:  # the push worker's own timings, read by the main process at the end
        while True:
            time.sleep(1)
            cycles = list(hub.timings)
            Path(instance, "push-timings.txt").write_text(
                "\n".join(f"{batches} {seconds:.6f}" for batches, seconds in cycles)
            )

    threading.Thread(target=report, daemon=True).start()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--reps", type=int, default=24)
    parser.add_argument("--quarters", type=int, default=1)
    parser.add_argument("--posters", type=int, default=8, help="concurrent posting threads")
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="web processes (gunicorn, python app.py) on PostgreSQL + Redis with `matchday push-worker`; "
        "0: one process on SQLite as above",
    )
    parser.add_argument("--client-processes", type=int, default=4, help="with --processes: client processes")
    parser.add_argument("--desks", type=int, default=0, help="with --processes: desk pages in the storm")
    args = parser.parse_args()
    if args.processes:
        from cluster import run_cluster  # benchmarks/cluster.py

        run_cluster(args)
        return

    import requests
    import socketio
    from sqlalchemy import text
    from sqlmodel import Session, select

    from scoreboard import create_app, db
    from scoreboard.models import Board, Playlist, Rep
    from scoreboard.seed import seed_demo_org
    from scoreboard.tokens import create_token

    tmp = Path(tempfile.mkdtemp(prefix="matchday-bench-"))
    url = f"sqlite:///{tmp / 'matchday.db'}"
    app = create_app(
        {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "seed"), "DEMO": False, "SIMULATOR": False}
    )
    started = time.perf_counter()
    seed_demo_org(app, seed=7, reps=args.reps, quarters=args.quarters)
    engine = db.engine_for(app)
    with Session(engine) as s:
        playlist_id = s.exec(select(Playlist)).one().id
        board = s.exec(select(Board).where(Board.stat == "meetings_booked")).one()
        # Meetings of the reps a TV shows, on a board long enough to list them all: every event
        # then changes the board the TVs see (a change below the top N, or of an opted-out rep,
        # is rightly not pushed, and would be timed to the next push that is).
        shown = s.exec(select(Rep).where(Rep.role == "rep", Rep.active == True, Rep.tv_opt_out == False))  # noqa: E712
        reps = [r.email for r in shown]
        board.top_n = len(reps)
        board_id = board.id
        s.add(board)
        s.commit()
    secret = create_token(engine, "display", "bench", playlist_id=playlist_id)[1]
    api = create_token(engine, "api", "bench")[1]
    print(f"seeded {args.reps} reps in {time.perf_counter() - started:.1f} s")

    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, str(tmp / "server")],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        pushes: list[list[tuple[int, float]]] = [[] for _ in range(args.clients)]
        pings: list[float] = []
        lock = threading.Lock()
        loop = asyncio.new_event_loop()  # every client on one event loop (see the docstring)
        threading.Thread(target=loop.run_forever, daemon=True).start()

        def on_ping(data: dict[str, Any]) -> None:
            latency = time.time() - data["t"]
            with lock:
                pings.append(latency)

        async def connect_all() -> list[Any]:
            connected = []
            for i in range(args.clients):
                sio = socketio.AsyncClient(reconnection=False)

                def on_board(state: dict[str, Any], i: int = i) -> None:
                    if state["board"] == board_id:
                        pushes[i].append((state["version"], time.time()))

                sio.on("board", on_board, namespace="/live")
                sio.on("bench_ping", on_ping, namespace="/live")
                await sio.connect(
                    base,
                    namespaces=["/live"],
                    auth={"token": secret},
                    transports=["websocket"],
                    wait_timeout=60,
                )
                connected.append(sio)
            return connected

        clients = asyncio.run_coroutine_threadsafe(connect_all(), loop).result()
        time.sleep(2)
        with lock:
            pings.clear()
        print(
            f"{args.clients} TV clients connected; posting {args.rate:g} events/s for {args.seconds:g} s ..."
        )

        sent: list[tuple[float, int]] = []  # (time the POST was sent, revision after its response)
        answered: list[float] = []  # POST round trips (the event is committed before the answer)
        errors = []
        t0 = time.time()
        total = int(args.rate * args.seconds)

        def poster(k: int) -> None:
            session = requests.Session()
            headers = {"Authorization": f"Bearer {api}"}
            for n in range(k, total, args.posters):
                due = t0 + n / args.rate
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                event = {
                    "type": "activity",
                    "source": "bench",
                    "id": uuid.uuid4().hex,
                    "rep": reps[n % len(reps)],
                    "kind": "meeting",
                    "outcome": "booked",
                    "at": datetime.now(UTC).isoformat(),
                }
                at = time.time()
                resp = session.post(
                    base + "/api/v1/events", json={"events": [event]}, headers=headers, timeout=30
                )
                answered_at = time.time()
                if resp.status_code != 200:
                    errors.append(resp.text)
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
        time.sleep(3)  # let the last pushes arrive

        latencies = []
        missing = 0
        for received in pushes:
            versions = [v for v, _ in received]
            times = [t for _, t in received]
            # pushes arrive in version order per client; the first push covering the event counts
            best = [min(times[j:]) for j in range(len(times))]
            for at, revision in sent:
                j = bisect.bisect_left(versions, revision)
                if j == len(versions):
                    missing += 1
                    continue
                latencies.append(max(0.0, best[j] - at))
        print(
            f"posted {len(sent)} events in {posting:.1f} s ({len(sent) / posting:.0f}/s), {len(errors)} errors"
        )
        print(
            f"board pushes per client: {sum(map(len, pushes)) / len(pushes):.0f}; events not covered: {missing}"
        )
        rows = [
            ("POST → board push at client", latencies),
            ("  of which the POST round trip", answered),
            ("bare emit → receipt", pings),
        ]
        print(f"{'':32} {'p50':>9} {'p95':>9} {'p99':>9} {'n':>8}")
        for label, values in rows:
            if values:
                p = [percentile(values, q) * 1000 for q in (50, 95, 99)]
                print(f"{label:32} {p[0]:7.1f}ms {p[1]:7.1f}ms {p[2]:7.1f}ms {len(values):8d}")
        timings = Path(tmp / "server" / "push-timings.txt")
        if timings.exists() and timings.read_text().strip():
            cycles = [line.split() for line in timings.read_text().splitlines()]
            seconds = [float(t) for _, t in cycles]
            batches = sum(int(b) for b, _ in cycles)
            p = [percentile(seconds, q) * 1000 for q in (50, 95, 99)]
            print(
                f"{'server push cycle':32} {p[0]:7.1f}ms {p[1]:7.1f}ms {p[2]:7.1f}ms {len(seconds):8d}"
                f"   ({batches} batches, {batches / len(seconds):.1f} per push)"
            )
        if latencies and pings:
            ratio = [percentile(latencies, q) / max(percentile(pings, q), 1e-6) for q in (50, 95, 99)]
            print(f"{'ratio':32} {ratio[0]:8.1f}x {ratio[1]:8.1f}x {ratio[2]:8.1f}x")
            print("aim: p95 ≤ 100 ms, p99 ≤ 250 ms")
        proc.terminate()  # first: the clients' goodbyes would only be logged as bad requests

        async def disconnect_all() -> None:
            await asyncio.gather(*(sio.disconnect() for sio in clients), return_exceptions=True)

        asyncio.run_coroutine_threadsafe(disconnect_all(), loop).result(30)
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        main()
