"""The worker registry: each `kzcarrier watch` keeps `worker:<id>` with a heartbeat in the
`kzcarrier` database. A worker silent for three heartbeats is gone (its share of requests
moves on); one silent for `forget_after` heartbeats has its record deleted."""
from __future__ import annotations

import logging
import os
import socket

from ..couch.client import Couch
from ..errors import StorageError
from . import protocol
from .journal import SERVICE_DB

log = logging.getLogger("kzcarrier.watcher")


def heartbeat(couch: Couch, worker: str, interval: float, forget_after: float,
              ) -> list[str] | None:
    """Beat, and return the live workers (this one included); None if CouchDB is away."""
    now = protocol.now()
    try:
        couch.update(SERVICE_DB, f"worker:{worker}", lambda d: {
            **(d or {}), "type": "worker", "worker": worker, "pid": os.getpid(),
            "host": socket.gethostname(), "heartbeat": now})
        rows = couch.all_docs(SERVICE_DB, start_key="worker:", end_key="worker:\ufff0")
    except StorageError as exc:
        log.warning("heartbeat: %s", exc)
        return None
    fresh = now - 3 * interval
    live = [r["doc"]["worker"] for r in rows if (r.get("doc") or {}).get("heartbeat", 0) >= fresh]
    dead = now - forget_after * interval
    for row in rows:
        doc = row.get("doc") or {}
        if doc.get("heartbeat", now) < dead:
            try:
                couch.delete(SERVICE_DB, doc["_id"], doc["_rev"])
            except StorageError:
                pass   # another worker removed it first
    return sorted(set(live) | {worker})


def deregister(couch: Couch, worker: str) -> None:
    try:
        doc = couch.get(SERVICE_DB, f"worker:{worker}", missing_ok=True)
        if doc:
            couch.delete(SERVICE_DB, doc["_id"], doc["_rev"])
    except StorageError:
        pass
