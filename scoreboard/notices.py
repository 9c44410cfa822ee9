""" "Batch committed" notices: how web processes tell ``matchday push-worker`` what changed.

With a message queue configured (``SOCKETIO_MESSAGE_QUEUE``, Redis) and ``LIVE_PUSH_WORKER`` not
switched off, a web process computes no pushes: after each committed batch it publishes a notice (the
batch's :class:`~scoreboard.ingest.IngestResult` as JSON, never pickle) on the Redis channel
``<SOCKETIO_CHANNEL>-batches``, and the push worker (:mod:`scoreboard.pushworker`) computes the boards
and emits them through the Socket.IO message queue to every web process's clients.

A notice is a hint, not the record: the database is. A notice lost (Redis restarting, a web process
killed between its commit and the publish, the worker down) costs no data: the worker compares its
frames with the database's data revision every second and catches up with what it missed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from typing import Any

from flask import Flask

from .ingest import IngestResult

log = logging.getLogger(__name__)

#: IngestResult fields that are sets (JSON has lists only).
_SETS = ("rep_ids", "types_changed", "activity_kinds", "contact_ids", "deal_ids")
#: fields a push never reads (per-record reports for the API's answer)
_LEFT_OUT = ("stale_records", "by_type")


def external(app: Flask) -> bool:
    """Whether live pushes are computed by ``matchday push-worker`` rather than in the web process:
    when a message queue is configured, unless ``LIVE_PUSH_WORKER`` is false."""
    if not app.config.get("SOCKETIO_MESSAGE_QUEUE"):
        return False
    setting = app.config.get("LIVE_PUSH_WORKER")
    return True if setting is None else bool(setting)


def channel(app: Flask) -> str:
    return f"{app.config.get('SOCKETIO_CHANNEL') or 'flask-socketio'}-batches"


def encode(result: IngestResult) -> str:
    """``result`` as a JSON notice (times as ISO strings)."""
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name not in _LEFT_OUT}
    for name in _SETS:
        fields[name] = sorted(fields[name])
    return json.dumps(fields, default=_iso)


def decode(text: str | bytes) -> IngestResult:
    fields: dict[str, Any] = json.loads(text)
    known = {f.name for f in dataclasses.fields(IngestResult)} - set(_LEFT_OUT)
    fields = {k: v for k, v in fields.items() if k in known}
    for name in _SETS:
        fields[name] = set(fields.get(name) or ())
    return IngestResult(**fields)


def _iso(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def redis_client(url: str) -> Any:
    import redis

    # short timeouts: a web process publishes after its commit, before it answers the request
    return redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0, health_check_interval=30)


class Publisher:
    """A web process's end: publishes a notice per committed batch (thread-safe)."""

    def __init__(self, app: Flask):
        self.url = str(app.config["SOCKETIO_MESSAGE_QUEUE"])
        self.channel = channel(app)
        self._client: Any = None
        self._lock = threading.Lock()
        self.failures = 0

    def publish(self, result: IngestResult) -> bool:
        """Publish ``result``; False (logged) when Redis cannot be reached: the batch is committed
        all the same, and the push worker catches up from the database's revision."""
        import redis

        with self._lock:
            if self._client is None:
                self._client = redis_client(self.url)
            client = self._client
        try:
            client.publish(self.channel, encode(result))
        except redis.RedisError as exc:
            self.failures += 1
            log.warning(
                "could not publish batch %s to the push worker (%s); it catches up", result.revision, exc
            )
            return False
        return True
