"""Where the watcher stands in one database's feed, how it learns which databases changed,
and how long a request has waited."""
from __future__ import annotations

import logging
import threading
import time
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
    done_seq: Any = None                # after the pages whose requests are all finished
    saved_at: float = float("-inf")     # when the checkpoint was last written (monotonic)
    changed_at: float = float("-inf")   # when its feed last showed a request (monotonic)
    next_poll: float = 0.0              # when a database not changed lately is read again
    installed: bool = False             # its design documents checked (the sweep's index)
    # as it was prepared, the server said that nothing was written past its position
    # (True), or that something was (False); None: not asked (CouchDB)
    unchanged: bool | None = None

    def active_for(self, now: float, hot_for: float) -> float:
        """Seconds it stays active (its feed showed a request within `hot_for`); <= 0: not
        active, left to `_db_updates`, the cold poll, or nothing at all."""
        return hot_for - (now - self.changed_at)

    def lag(self) -> int:
        """Changes read whose requests are not finished yet: the checkpoint trails them."""
        return sum(n for _, _, n in self.batches)


def pending_since(doc: dict[str, Any]) -> float | None:
    """When a request began waiting, in Gregorian seconds: its first claim, else the
    document's last change (KAZOO's pvt_modified)."""
    started = (protocol.own_state(doc) or {}).get("started")
    since = started if started is not None else doc.get("pvt_modified") or doc.get("pvt_created")
    return float(since) if isinstance(since, (int, float)) else None


def prepare(couch: Couch, db: str, checkpoint: str, install: bool = True,
            known: tuple[Any, bool] | None = None) -> DbFeed | None:
    """A database first seen: where its feed resumes (its checkpoint, or `known`: the
    position and checked flag a snapshot kept, without a request on CouchDB) and, with
    `install`, its design documents (one read when in place; a live watcher checks them
    after every database's feed is found: `FeedFollowing._keep_listing`). Where the
    server's own position is read (the test server's check), `unchanged` says whether
    anything was written past the feed's. None: not now (logged; tried again at the next
    listing)."""
    try:
        if known is not None:
            seq, installed = known
        else:
            seq, installed = (couch.get_local(db, checkpoint) or {}).get("seq", 0), False
        if install and not installed:
            couch.install_design_docs(db)
            installed = True
        unchanged = None
        if isinstance(seq, int) and seq:     # the test server's seqs: see couch/compat.py
            info = couch.db_info(db)
            seq = couch.profile.resume_from(seq, info)
            # read for that check anyway: its feed holds nothing to read past the position
            unchanged = bool(seq) and info.get("update_seq") == seq
    except StorageError as exc:
        log.warning("cannot prepare %s: %s", db, exc)
        return None
    return DbFeed(read_seq=seq, saved_seq=seq, installed=installed, unchanged=unchanged)


class ColdPoll:
    """Without `_db_updates`: one thread looks at the databases not active lately, one
    read at a time, at most `per_second` a second and waiting at least as long as each
    read took (a slow server is left room for the active databases), each at most every
    `interval` seconds, the most overdue first, and names those whose feed moved. The
    watcher's loop reads only active and named databases, so its pace (an active
    database's latency) does not depend on how many are idle; the idle ones cost a
    bounded rate of small reads. It waits while `first_reads_pending()`: a database
    never read (thousands at start-up) is likelier to hold a request than one read a
    moment ago, and the server's time goes to those first reads."""

    def __init__(self, couch: Couch, feeds: Callable[[], dict[str, DbFeed]], hot_for: float,
                 interval: float, per_second: float, changed: Callable[[set[str]], None],
                 stop: threading.Event,
                 first_reads_pending: Callable[[], bool] = lambda: False):
        self.couch = couch
        self.feeds = feeds
        self.hot_for = hot_for
        self.interval = interval
        self.per_second = per_second
        self.changed = changed
        self.stop = stop
        self.first_reads_pending = first_reads_pending

    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True, name="kzc-cold-poll").start()

    def due(self, now: float) -> list[str]:
        feeds = list(self.feeds().items())
        return [db for _, db in sorted((f.next_poll, db) for db, f in feeds
                                       if f.active_for(now, self.hot_for) <= 0
                                       and now >= f.next_poll)]

    def _loop(self) -> None:
        while not self.stop.is_set():
            due = [] if self.first_reads_pending() else self.due(time.monotonic())
            if not due:
                self.stop.wait(min(self.interval, 0.1) or 0.01)
            for db in due:
                if self.stop.is_set() or self.first_reads_pending():
                    break
                began = time.monotonic()
                self.look(db, began)
                took = time.monotonic() - began   # a slow server: busy half the time at most
                self.stop.wait(max(took, 1.0 / self.per_second - took))

    def look(self, db: str, now: float) -> None:
        feed = self.feeds().get(db)
        if feed is None:
            return
        feed.next_poll = now + self.interval
        since = feed.read_seq
        try:
            page = self.couch.changes(db, since or 0, limit=1, include_docs=False)
        except StorageError as exc:
            log.debug("cold look at %s: %s", db, exc)
            return
        if page.results and page.last_seq != since:
            self.changed({db})


class HotFeeds:
    """Where the server honours a longpoll's `timeout` (CouchDB): a longpoll open on each
    database active lately (at most `max_open`, the latest first), so the request that
    follows a request wakes the loop at once, whatever `_db_updates`' batching and however
    long the idle loop sleeps; one open request per such database, none per pass. Each
    follows the loop's position: a change it sees is named, then it waits (at most
    `settle` seconds) for the loop's read, and `pause` more, before it opens again. It
    closes when its database is no longer active (at most `timeout` seconds later). The
    candidates come from the watcher's set of active databases (`active(now)`), never
    from a look at every feed (3 ms at 10,000 databases, every 0.2 s)."""

    def __init__(self, couch: Couch, feeds: Callable[[], dict[str, DbFeed]],
                 active: Callable[[float], list[str]], hot_for: float,
                 changed: Callable[[set[str]], None], stop: threading.Event,
                 max_open: int = 16, timeout: float = 10.0, settle: float = 0.5,
                 pause: float = 0.1):
        self.couch = couch
        self.feeds = feeds
        self.active = active
        self.hot_for = hot_for
        self.changed = changed
        self.stop = stop
        self.max_open = max_open
        self.timeout = timeout
        self.settle = settle
        self.pause = pause
        self.open: set[str] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True, name="kzc-hot-feeds").start()

    def hot(self, now: float) -> list[str]:
        feeds = self.feeds()
        found = ((feeds.get(db), db) for db in self.active(now))
        latest = sorted(((f.changed_at, db) for f, db in found
                         if f is not None and f.active_for(now, self.hot_for) > 0),
                        reverse=True)
        return [db for _, db in latest[:self.max_open]]

    def _loop(self) -> None:
        while not self.stop.is_set():
            for db in self.hot(time.monotonic()):
                with self._lock:
                    if db in self.open or len(self.open) >= self.max_open:
                        continue
                    self.open.add(db)
                threading.Thread(target=self._follow, args=(db,), daemon=True,
                                 name="kzc-hot-feed").start()
            # meanwhile a database just active is named by `_db_updates` (batched)
            self.stop.wait(0.2)

    def _follow(self, db: str) -> None:
        try:
            while not self.stop.is_set():
                feed = self.feeds().get(db)
                left = feed.active_for(time.monotonic(), self.hot_for) if feed else 0
                if left <= 0:
                    return
                since = feed.read_seq
                try:
                    page = self.couch.changes(db, since or 0, limit=1, include_docs=False,
                                              longpoll_ms=int(min(self.timeout, left) * 1000))
                except StorageError as exc:
                    log.debug("longpoll on %s: %s", db, exc)
                    self.stop.wait(1.0)
                    continue
                if page.results:        # a change after the loop's position: read it
                    self.changed({db})
                    settled = time.monotonic() + self.settle
                    while feed.read_seq == since and time.monotonic() < settled and \
                            not self.stop.wait(0.005):
                        pass
                    # the loop passes often for a while after activity: under a steady
                    # stream of changes, a longpoll at most every `pause`
                    self.stop.wait(self.pause)
        finally:
            with self._lock:
                self.open.discard(db)


class DbUpdates:
    """A longpoll on `_db_updates` (CouchDB with `_global_changes`; the embedded server's
    `server/dbupdates.js`) naming the number databases that changed; where it does not
    answer (404, 401 without admin, a bare pouchdb-server's 400) the watcher polls its
    feeds instead. `since`: where it reads from, and (once what it read is
    named) where it stands; None until it has a position (it reads from "now"). From a
    snapshot's position, it waits for `resume` (every database the snapshot knows is
    followed: a name read before would be lost)."""

    def __init__(self, couch: Couch, changed: Callable[[set[str]], None],
                 stop: threading.Event, since: Any = None,
                 resume: threading.Event | None = None):
        self.couch = couch
        self.changed = changed
        self.stop = stop
        self.since = since
        self.resume = resume

    def start(self) -> bool:
        try:
            self.couch.db_updates(feed="normal", limit=1)
        except Exception:
            return False
        threading.Thread(target=self._loop, daemon=True, name="kzc-db-updates").start()
        return True

    def _loop(self) -> None:
        while self.resume is not None and not self.resume.wait(0.1):
            if self.stop.is_set():
                return
        while not self.stop.is_set():
            try:
                res = self.couch.db_updates(feed="longpoll", since=self.since or "now",
                                            timeout=10000)
            except Exception:
                self.stop.wait(1.0)
                continue
            names = {self.couch.profile.logical(r["db_name"]) for r in res.get("results", [])
                     if isinstance(r.get("db_name"), str)}
            found = {n for n in names if n.startswith(NUMBERS_PREFIX)}
            if found:
                self.changed(found)
            # after naming them: a snapshot taking this position finds them named
            self.since = res.get("last_seq", self.since)
