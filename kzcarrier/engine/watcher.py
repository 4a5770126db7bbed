"""The engine: follow every number database, hand pending requests to a bounded pool.

* Databases: the `numbers/...` databases are listed by key range (cheap), and prepared once
  a few at a time (their checkpoints; their design documents once every feed is found; at
  a restart, what the feeds' snapshot knows costs no request: engine/snapshot.py); where
  the server has `_db_updates` (CouchDB with `_global_changes`, the embedded server), a
  longpoll on it wakes the loop and names the databases that changed, so idle databases
  cost nothing.
* Changes: one `feed=normal` read per changed database per pass, from an in-memory position.
  A database whose feed showed a request in the last `hot_for` seconds is read every pass
  whatever `_db_updates` says (CouchDB batches it); without `_db_updates` a thread of its
  own looks at the others at a bounded rate (`ColdPoll`) and names those that changed.
  The checkpoint (`_local/kzcarrier-watcher`) advances only past changes whose requests
  are finished.
* The sweep (every `sweep_interval`): the `_design/kzcarrier/requests` view lists every
  unfinished request and every claim, so a crashed worker's claim or a retry whose time has
  come is found. It reads the databases known to hold unfinished requests (at start: those
  the feeds' snapshot lists so, or every database with a position when there is no
  snapshot); a full sweep over all of them runs every `full_sweep_interval`. The feed is
  the fast path; the sweep is what makes it correct.
* Workers: each registers a heartbeat document in the `kzcarrier` database. A request is
  offered first to its owner by rendezvous hashing of the document id over the live
  workers; another worker takes it only after `steal_after` seconds, so N workers do not
  all race for every document. Claims (written at the read `_rev`) make it exactly once
  either way.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Sequence

from ..carriers import CarrierContext
from ..couch.client import Couch
from ..couch.paging import iter_view
from ..errors import DocNotFound, StorageError
from ..metrics import Metrics
from ..model.config import Config
from ..search import purge_discovery
from . import protocol, registry, snapshot
from .backstop import PURGE, SWEEP, Backstop
from .batch import Batch
from .dbfeed import ColdPoll, DbFeed, DbUpdates, HotFeeds, pending_since
from .feeds import FeedFollowing
from .gates import Gates
from .journal import SERVICE_DB, lease_warnings
from .processor import Processor
from .recovery import Recovery
from .settings import WatchSettings
from .snapshot import Snapshot, SnapshotWriter

log = logging.getLogger("kzcarrier.watcher")

__all__ = ["WatchSettings", "Watcher"]
# outcomes after which `watch --once` sweeps again before it ends (see _once_pass)
UNSETTLED = ("retry", "busy", "error")


class Watcher(FeedFollowing):
    def __init__(self, couch: Couch, config: Config, settings: WatchSettings | None = None,
                 worker_id: str | None = None, metrics: Metrics | None = None,
                 chores: Sequence[tuple[float, Callable[[], Any]]] = ()):
        self.couch = couch
        # (interval s, job): upkeep run beside the sweep (the number crawler), first at start
        self.chores = [[interval, job, 0.0] for interval, job in chores]
        self.config = config
        self.settings = settings or WatchSettings()
        self.worker = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.metrics = metrics or Metrics()
        self.processor = Processor(couch, config, self.worker, gate=Gates(config),
                                   metrics=self.metrics)
        self.batch = Batch(self.processor)
        self.recovery = Recovery(couch, config, self.processor)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.ready = threading.Event()  # set when the first sweep has offered its work
        self._pool = ThreadPoolExecutor(self.settings.pool_size, thread_name_prefix="kzc")
        # feed reads and checkpoint writes, a few at a time
        self._io = ThreadPoolExecutor(self.settings.read_threads, thread_name_prefix="kzc-io")
        self._inflight: dict[tuple[str, str], Future[str]] = {}
        self._lock = threading.Lock()
        self._feeds: dict[str, DbFeed] = {}
        self._first_seen: dict[tuple[str, str], float] = {}
        # requests this worker saw finish, and when: a sweep's view read before that moment
        # shows them pending still, and offering them again would cost a wasted pass
        self._finished: dict[tuple[str, str], float] = {}
        self._live_workers: list[str] = [self.worker]
        self._dirty: dict[str, None] = {}
        self._unprepared: list[str] = []     # listed, not prepared yet
        self._unread: set[str] = set()       # being prepared or prepared, not read once
        self._moving: set[str] = set()       # feeds read whose checkpoints trail them
        self._active: set[str] = set()       # feeds that showed a request lately
        self._asleep_for = 0.0               # the loop's sleep now
        self._lister: threading.Thread | None = None   # a live watcher's database listing
        self._left_to_others = False         # a request left to its owner, another worker
        # databases where the last sweep left unfinished requests it did not offer
        self._sweep_left: set[str] = set()
        # databases whose last look showed unfinished requests, and when that was
        self._work: dict[str, float] = {}
        self._next_full = 0.0
        self._full_sweeps = 0
        self._backstop = Backstop(couch)     # which databases a full sweep reads
        self._db_updates_ok = False
        self._db_updates: DbUpdates | None = None
        self._snapshot: Snapshot | None = None
        self._snapshots = SnapshotWriter(couch)
        self._resumed = threading.Event()
        self.counts: dict[str, int] = {}
        self._sweeps = 0
        self.metrics.track_claims(lambda: len(self._inflight))

    # --- public --------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; in-flight requests finish; checkpoints are written."""
        self._stop.set()
        self._wake.set()

    def run(self, once: bool = False) -> int:
        """Until `stop()`; with `once`, until no request is pending. 0: all terminal."""
        self.couch.ensure_db(SERVICE_DB)
        self.couch.install_design_docs(SERVICE_DB)
        for warning in lease_warnings(self.config, CarrierContext(couch=self.couch,
                                                                  config=self.config)):
            log.warning("lease: %s", warning)
        self._heartbeat()
        self._snapshot = snapshot.load(self.couch)
        if self._snapshot:
            self._backstop.resume(self._snapshot.looked)
        # a live watcher reads the feeds of the first databases found while the others
        # are prepared beside it; `--once` sweeps them all, so it prepares them all first
        if once:
            self._refresh_dbs()
        else:
            self._start_db_updates()
            how = ("named by _db_updates" if self._db_updates_ok else
                   "found by looking at each in turn (--no-db-updates)"
                   if not self.settings.db_updates else
                   "found by looking at each in turn (the server does not answer _db_updates)")
            log.info("requests in idle databases: %s", how)
            self._refresh_dbs(self._prepare_room(), install=False)
        # what the feeds' positions passed unfinished is in `_work` (FeedFollowing.
        # _prepare_more): the first sweep reads those, the first full one comes later
        self._next_full = time.monotonic() + self.settings.full_sweep_interval
        if not once:
            cfg = self.settings
            if not self._db_updates_ok:
                ColdPoll(self.couch, lambda: self._feeds, cfg.hot_for, cfg.cold_poll_interval,
                         cfg.cold_reads_per_s, self._changed, self._stop,
                         lambda: bool(self._unread)).start()
            if self._hot_longpolls():
                HotFeeds(self.couch, lambda: self._feeds, self._active_dbs, cfg.hot_for,
                         self._changed, self._stop, cfg.hot_longpolls).start()
            threading.Thread(target=self._sweep_loop, daemon=True, name="kzc-sweep").start()
            self._lister = threading.Thread(target=self._keep_listing, daemon=True,
                                            name="kzc-dbs")
            self._lister.start()
        next_dbs = next_beat = 0.0
        next_snapshot = time.monotonic() + self.settings.snapshot_interval
        sleep = 0.01
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_beat:
                    self._heartbeat()
                    next_beat = now + self.settings.heartbeat_interval
                if once and now >= next_dbs:
                    self._refresh_dbs()
                    next_dbs = now + self.settings.db_poll_interval
                if once:
                    if self._once_pass():
                        self.recovery.service_quantities()   # what this run changed
                        for _, job, _ in self.chores:
                            job()
                        return 0
                    self._stop.wait(0.05)
                    continue
                active = self._poll_feeds()
                self._advance_checkpoints()
                if now >= next_snapshot:
                    self._save_snapshot()
                    next_snapshot = now + self.settings.snapshot_interval
                sleep = 0.01 if active else min(self.settings.idle_sleep_max, sleep * 2)
                self._asleep_for = sleep
                self._wake.wait(sleep)
                self._wake.clear()
            return 0
        finally:
            # finish what is running (carrier calls in flight are written); what is only
            # queued is cancelled, unclaimed, and found again by the next worker's feed
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._advance_checkpoints(final=True)
            self._save_snapshot()
            self._io.shutdown(wait=True)
            if self._lister is not None:
                self._lister.join(30)
            self._deregister()

    def _once_pass(self) -> bool:
        """One pass of `watch --once`; True when nothing is pending. Its first sweep comes
        before the feeds are read (the index is brought up to date over the requests, not
        over their outcomes too); every feed is read to its end (it shows what no index
        lists). It ends without another sweep when every request it handled ended terminal,
        the first sweep left none it did not offer, and the feeds show nothing new: a retry
        waiting, or another worker's claim, needs the sweeps until nothing is pending."""
        first = not self._sweeps
        if first:
            self._sweep()
        for _ in range(2):      # the second reads this run's own writes, and anything new
            ended: set[str] = set()           # each feed read to its end once a round
            while self._poll_feeds(everything=True, ended=ended):
                pass
            self._set_ready()
            self._wait_inflight()
        if first and not self._left_to_others and not self._sweep_left and not any(
                self.counts.get(status) for status in UNSETTLED):
            with self._lock:    # what the feeds offered all ended: no work left behind
                self._work.clear()
            return True
        pending = self._sweep()
        self._wait_inflight()
        # (stopping, the sweep may have ended before its last database)
        return not pending and not self._inflight and not self._stop.is_set()

    # --- sweep ---------------------------------------------------------------------------

    def _sweep_loop(self) -> None:
        """The live watcher's sweep runs beside the feeds: a view that takes seconds to
        bring up to date (many changed documents) does not hold up the fast path."""
        while not self._stop.is_set():
            try:
                self._sweep()
                for chore in self.chores:
                    if time.monotonic() >= chore[2]:
                        chore[2] = time.monotonic() + chore[0]
                        chore[1]()
            except Exception as exc:  # a failed sweep is retried at the next interval
                log.exception("sweep: %s", exc)
            while not self._following_all() and not self._stop.is_set():
                self._stop.wait(0.1)      # ready: every database listed is followed
            self._set_ready()
            self._stop.wait(self.settings.sweep_interval)

    def _sweep(self) -> int:
        """Offer every unfinished request that is due; returns how many are unfinished.
        A full sweep (every `full_sweep_interval`) reads every database's index, and every
        `purge_every` of them purges expired discovery documents; the others read the
        databases known to hold unfinished requests (`_work`)."""
        self._sweeps += 1
        self.metrics.sweeps.inc()
        self.recovery.journal()
        self.recovery.account_copies()
        self.recovery.service_quantities()
        full = time.monotonic() >= self._next_full
        if full:   # every database: what no feed showed this worker (another's claims)
            self._next_full = time.monotonic() + self.settings.full_sweep_interval
            self._full_sweeps += 1
            dbs = list(self._feeds)
            self._backstop.look(dbs)       # which changed since each job last read them
            if self._full_sweeps % self.settings.purge_every == 0:   # not at start-up
                for db in self._backstop.changed(PURGE, dbs):
                    if purge_discovery(self.couch, db).left == 0:   # else: again next time
                        self._backstop.read(PURGE, db)
            # a feed not read yet that starts from the beginning (no checkpoint: a first
            # run) will show every document: its index would add nothing but its build
            targets = self._backstop.changed(SWEEP, [
                db for db in dbs if (feed := self._feeds.get(db)) is not None
                and feed.read_seq not in (None, 0, "0")])
        else:      # the databases with unfinished requests: the cost follows the work
            with self._lock:
                targets = [db for db in self._work if db in self._feeds]
        unfinished = waiting = 0
        self._sweep_left = set()
        now = protocol.now()
        began = time.monotonic()
        seen: set[tuple[str, str]] = set()
        for db in targets:
            if self._stop.is_set():     # stopping: a full sweep may have thousands to go
                break
            backlog, oldest = 0, None
            read_at = time.monotonic()
            try:
                feed = self._feeds.get(db)
                if feed is not None and not feed.installed:   # found, not checked yet
                    self._install(db)
                try:
                    rows = list(iter_view(self.couch, db, "kzcarrier", "requests"))
                except DocNotFound:   # deleted and created again, or its index removed
                    self._start_over(db)
                    rows = list(iter_view(self.couch, db, "kzcarrier", "requests"))
                if full:
                    self._backstop.read(SWEEP, db)
            except StorageError as exc:
                log.warning("sweep of %s: %s", db, exc)
                unfinished += 1
                with self._lock:
                    self._work[db] = time.monotonic()
                continue
            due = []
            for row in rows:
                doc = row.get("doc") or {}
                if not protocol.is_pending(doc) or self._finished.get(
                        (db, doc["_id"]), -1.0) >= read_at:
                    continue  # finished, or seen finishing after this view was read
                unfinished += 1
                backlog += 1
                seen.add((db, doc["_id"]))
                since = pending_since(doc)
                if since is not None and (oldest is None or since < oldest):
                    oldest = since
                if protocol.due_at(doc, self.worker) <= now:
                    due.append(doc)
                elif (protocol.own_state(doc) or {}).get("next_attempt"):
                    waiting += 1
            with self._lock:
                if rows:     # unfinished here, this worker's or another's
                    self._work[db] = time.monotonic()
                elif self._work.get(db, read_at) < read_at:   # none since the view was read
                    self._work.pop(db)
            if backlog > min(len(due), max(0, self._room())):
                self._sweep_left.add(db)    # not due yet, or beyond the pool's room
            self.metrics.per_database(self.metrics.backlog, db, backlog)
            self.metrics.per_database(self.metrics.oldest_pending, db,
                                      0 if oldest is None else now - oldest, backlog > 0)
            self._offer_page(db, due, capped=True)   # in groups, the rest one by one
        with self._lock:  # what finished before this sweep began, its views showed
            self._finished = {k: t for k, t in self._finished.items() if t >= began}
            # requests another worker finished are forgotten here too (bounded memory)
            self._first_seen = {k: t for k, t in self._first_seen.items()
                                if k in seen or t >= began}
        self.metrics.retries_waiting.set(waiting)
        return unfinished

    def _room(self) -> int:
        """How many more requests the pool may be handed now (read-ahead is bounded)."""
        with self._lock:
            return self._limit() - len(self._inflight)

    def _limit(self) -> int:
        return max(self.settings.read_ahead * self.settings.pool_size,
                   2 * self.settings.group_size)

    def _set_ready(self) -> None:
        self.ready.set()
        self.metrics.ready.set(1)

    # --- ownership and the pool ----------------------------------------------------------

    def _owner(self, doc_id: str) -> str:
        def score(worker: str) -> bytes:
            return hashlib.sha1(f"{worker}/{doc_id}".encode()).digest()
        return max(self._live_workers, key=score)

    def _mine(self, key: tuple[str, str]) -> bool:
        """Whether this worker takes the request now (call with the lock held): its own
        share, or another's that has waited `steal_after`."""
        if self._owner(key[1]) == self.worker:
            return True
        first = self._first_seen.setdefault(key, time.monotonic())
        return time.monotonic() - first >= self.settings.steal_after

    def _offer_page(self, db: str, docs: list[dict[str, Any]], capped: bool = False,
                    ) -> list[Future[Any]]:
        """A feed page's pending requests, in groups for `Batch` (requests that call no
        carrier, together); the rest of each group is then offered one by one. Returns the
        futures the page's checkpoint waits for (the list grows as groups hand work on).
        `capped` (the sweep): no more than the pool has room for; the next sweep offers
        the rest (a feed page is sized to the room already, and must be taken whole)."""
        futures: list[Future[Any]] = []
        if self._stop.is_set():
            return futures
        with self._lock:
            mine = []
            for doc in docs:
                key = (db, doc["_id"])
                if key in self._inflight:
                    futures.append(self._inflight[key])
                elif self._mine(key):
                    mine.append(doc)
                else:
                    self._left_to_others = True
            if capped:
                mine = mine[:max(0, self._limit() - len(self._inflight))]
            size = self.settings.group_size
            for start in range(0, len(mine), size):
                group = mine[start:start + size]
                try:
                    fut = self._pool.submit(self._process_group, db, group, futures)
                except RuntimeError:  # the pool is shutting down (a late sweep)
                    break
                futures.append(fut)
                for doc in group:
                    self._inflight[(db, doc["_id"])] = fut
        return futures

    def _process_group(self, db: str, docs: list[dict[str, Any]],
                       futures: list[Future[Any]]) -> None:
        ids = [doc["_id"] for doc in docs]
        try:
            result = self.batch.process(db, docs)
            single = result.single
        except Exception as exc:  # the engine never dies on one page: one by one instead
            if getattr(exc, "transient", False):     # CouchDB out of reach a moment
                log.warning("group of %d requests in %s, one by one: %s", len(docs), db, exc)
            else:
                log.exception("group of %d requests in %s: %s", len(docs), db, exc)
            single, result = [(doc["_id"], doc) for doc in docs], None
        with self._lock:
            for doc_id in ids:
                self._inflight.pop((db, doc_id), None)
                self._first_seen.pop((db, doc_id), None)
            if result is not None:
                self.counts["completed"] = (self.counts.get("completed", 0)
                                            + len(result.statuses))
                done_at = time.monotonic()
                for doc_id in result.statuses:
                    self._finished[(db, doc_id)] = done_at
            for doc_id, doc in single:
                if self._stop.is_set():  # not started: the checkpoint must stay before it
                    futures.append(Future())
                    break
                try:
                    fut = self._pool.submit(self._process, db, doc_id, doc)
                except RuntimeError:  # the pool is shutting down
                    futures.append(Future())
                    break
                self._inflight[(db, doc_id)] = fut
                futures.append(fut)

    def _process(self, db: str, doc_id: str, doc: dict[str, Any] | None = None) -> str:
        try:
            status = self.processor.process(db, doc_id, doc)
        except Exception as exc:  # the engine never dies on one document
            log.exception("request %s in %s: %s", doc_id, db, exc)
            status = "error"
        finally:
            with self._lock:
                self._inflight.pop((db, doc_id), None)
                if not self._stop.is_set():
                    self._first_seen.pop((db, doc_id), None)
        with self._lock:
            self.counts[status] = self.counts.get(status, 0) + 1
            if status in protocol.TERMINAL:
                self._finished[(db, doc_id)] = time.monotonic()
        return status

    def _wait_inflight(self) -> None:
        while True:
            with self._lock:
                futures = list(self._inflight.values())
            if not futures:
                return
            for fut in futures:
                fut.result()

    # --- worker registry -----------------------------------------------------------------

    def _heartbeat(self) -> None:
        live = registry.heartbeat(self.couch, self.worker, self.settings.heartbeat_interval,
                                  self.settings.forget_workers_after)
        if live is None:
            return
        self._live_workers = live
        self.metrics.workers_alive.set(len(live))
        self.metrics.heartbeat.set(time.time())

    def _deregister(self) -> None:
        registry.deregister(self.couch, self.worker)
