"""Where the watcher stands in one database's feed, how it learns which databases changed,
and how long a request has waited."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

from ..couch.client import Couch
from ..errors import StorageError
from ..numbers import NUMBERS_PREFIX
from . import protocol

log = logging.getLogger("kzcarrier.watcher")


@dataclass
class DbFeed:
    """Position in one database's feed, and the checkpoint that trails it."""

    read_seq: Any = None
    # (seq after the page, the page's futures, how many changes it held)
    batches: list[tuple[Any, list[Future[str]], int]] = field(default_factory=list)
    saved_seq: Any = None
    changed_at: float = float("-inf")   # when its feed last showed a request (monotonic)
    next_poll: float = 0.0              # when a database not changed lately is read again

    def lag(self) -> int:
        """Changes read whose requests are not finished yet: the checkpoint trails them."""
        return sum(n for _, _, n in self.batches)


def pending_since(doc: dict[str, Any]) -> float | None:
    """When a request began waiting, in Gregorian seconds: its first claim, else the
    document's last change (KAZOO's pvt_modified)."""
    started = (protocol.own_state(doc) or {}).get("started")
    since = started if started is not None else doc.get("pvt_modified") or doc.get("pvt_created")
    return float(since) if isinstance(since, (int, float)) else None


def prepare(couch: Couch, db: str, checkpoint: str) -> DbFeed | None:
    """A database first seen: its design documents (one read when in place) and where its
    feed resumes (its checkpoint). None: not now (logged; tried again at the next listing)."""
    try:
        couch.install_design_docs(db)
        seq = (couch.get_local(db, checkpoint) or {}).get("seq", 0)
        if isinstance(seq, int) and seq:     # the test server's seqs: see couch/compat.py
            seq = couch.profile.resume_from(seq, couch.db_info(db))
    except StorageError as exc:
        log.warning("cannot prepare %s: %s", db, exc)
        return None
    return DbFeed(read_seq=seq, saved_seq=seq)


class DbUpdates:
    """A longpoll on `_db_updates` (CouchDB with `_global_changes`) naming the number
    databases that changed; where it does not answer (404, 401 without admin) the watcher
    polls its feeds instead."""

    def __init__(self, couch: Couch, changed: Callable[[set[str]], None],
                 stop: threading.Event):
        self.couch = couch
        self.changed = changed
        self.stop = stop

    def start(self) -> bool:
        if not self.couch.profile.db_updates:
            return False
        try:
            self.couch.client.get_db_updates(feed="normal", limit=1)
        except Exception:
            return False
        threading.Thread(target=self._loop, daemon=True, name="kzc-db-updates").start()
        return True

    def _loop(self) -> None:
        since = "now"
        while not self.stop.is_set():
            try:
                res = self.couch.client.get_db_updates(feed="longpoll", since=since,
                                                       timeout=10000).get_result()
            except Exception:
                self.stop.wait(1.0)
                continue
            since = res.get("last_seq", since)
            names = {r.get("db_name") for r in res.get("results", [])}
            found = {n for n in names if isinstance(n, str) and n.startswith(NUMBERS_PREFIX)}
            if found:
                self.changed(found)
