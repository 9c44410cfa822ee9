"""A buyer's new touch reaches the owner's open player card at once (Socket.IO push), and only
people allowed to see that card get the push."""

from __future__ import annotations

import queue
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import socketio
from sqlalchemy import text

from scoreboard import db
from scoreboard.seed import seed_demo_org
from scoreboard.tokens import create_token

PASSWORD = "matchday-demo"


def logged_in_cookie(base: str, email: str) -> str:
    http = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', http.get(base + "/login").text).group(1)
    resp = http.post(base + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert resp.ok and "Log in to Matchday" not in resp.text
    return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


def card_client(base: str, email: str, rep_id: int) -> tuple[socketio.Client, queue.Queue[Any]]:
    events: queue.Queue[Any] = queue.Queue()
    sio = socketio.Client(reconnection=False)
    sio.on("card", events.put, namespace="/live")
    sio.connect(
        base,
        namespaces=["/live"],
        auth={"cards": [rep_id]},
        transports=["websocket"],
        headers={"Cookie": logged_in_cookie(base, email)},
        wait_timeout=10,
    )
    return sio, events


@pytest.fixture
def floor(app_factory, tmp_path, serve):
    app = app_factory(f"sqlite:///{tmp_path / 'card.db'}")
    seed_demo_org(app, seed=3, reps=6, quarters=1)
    server = serve(app)
    yield app, server
    app.extensions["matchday.live"].stop()


def test_a_new_touch_pushes_to_the_owners_card_and_not_to_others(floor):
    app, server = floor
    engine = db.engine_for(app)
    with engine.connect() as conn:
        owner_id, owner_email, contact = conn.execute(
            text(
                "SELECT r.id, r.email, c.external_id FROM contact c JOIN rep r ON r.id = c.owner_rep_id "
                "WHERE r.role = 'rep' ORDER BY c.updated_at DESC LIMIT 1"
            )
        ).one()
        other_id, other_email = conn.execute(
            text("SELECT id, email FROM rep WHERE role = 'rep' AND id <> :o ORDER BY id LIMIT 1"),
            {"o": owner_id},
        ).one()
    mine, my_events = card_client(server.url, owner_email, owner_id)
    # Another rep asking for this card is not let into its room (reps see their own card only).
    nosy, nosy_events = card_client(server.url, other_email, owner_id)
    try:
        api = create_token(engine, "api", "test")[1]
        touch = {
            "type": "touch",
            "source": "demo",
            "id": f"t-{uuid.uuid4().hex}",
            "contact": contact,
            "action": "visit",
            "url": "https://matchday.demo/pricing",
            "seconds": 80,
            "at": datetime.now(UTC).isoformat(),
        }
        resp = requests.post(
            server.url + "/api/v1/events",
            json={"events": [touch]},
            headers={"Authorization": f"Bearer {api}"},
            timeout=10,
        )
        assert resp.status_code == 200 and resp.json()["created"] == 1
        # it arrives (how fast is benchmarks/live.py's to measure: a loaded CI machine is no yardstick)
        pushed = my_events.get(timeout=15.0)
        assert pushed["rep"] == owner_id
        with pytest.raises(queue.Empty):
            nosy_events.get(timeout=0.5)
    finally:
        mine.disconnect()
        nosy.disconnect()
