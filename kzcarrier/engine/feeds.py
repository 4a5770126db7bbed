"""Following the number databases: which there are, where each one's feed stands, and
reading the feeds (design_docs/engine.md, "Finding work without visiting every
database"). A part of the Watcher, which offers what the feeds show to its pool."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..couch.client import Couch
from ..errors import StorageError
from ..metrics import Metrics
from . import protocol
from .backstop import Backstop
from .dbfeed import DbFeed, DbUpdates, prepare
from .settings import WatchSettings
from .snapshot import Snapshot, SnapshotWriter

log = logging.getLogger("kzcarrier.watcher")

CHECKPOINT = "kzcarrier-watcher"


# a loop that works passes at least this often (10 ms after activity, doubling while
# nothing comes): a wake for an active database is worth a pass only past it
LONG_SLEEP = 0.1


class FeedFollowing:
    """The Watcher's feeds (a mixin: the state below is the Watcher's)."""

    couch: Couch
    settings: WatchSettings
    metrics: Metrics
    worker: str
    _stop: threading.Event
    _wake: threading.Event
    _lock: threading.Lock
    _io: ThreadPoolExecutor
    _feeds: dict[str, DbFeed]
    _unprepared: list[str]          # listed, not prepared yet
    _unread: set[str]               # being prepared or prepared, not read once yet
    _moving: set[str]               # feeds read whose checkpoints trail them
    _active: set[str]               # feeds that showed a request lately
    _asleep_for: float              # the loop's sleep now (0.01 s after activity, doubling)
    _dirty: dict[str, None]         # databases to read in the next passes, in order
    _work: dict[str, float]         # databases with unfinished requests, and since when
    _db_updates_ok: bool
    _db_updates: DbUpdates | None
    _snapshot: Snapshot | None      # the one this watcher started from (engine/snapshot.py)
    _snapshots: SnapshotWriter
    _backstop: Backstop             # which databases the full sweep reads
    _resumed: threading.Event       # every database listed at start followed

    def _room(self) -> int:
        raise NotImplementedError

    def _offer_page(self, db: str, docs: list[dict[str, Any]],
                    capped: bool = False) -> list[Future[Any]]:
        raise NotImplementedError

    def _keep_listing(self) -> None:
        """A live watcher's databases: listed every `db_poll_interval`, those first seen
        found beside the loop (their checkpoints: where their feeds resume), so its pace
        never waits for them; once every feed is found, their design documents are checked
        (what finds requests goes before what keeps the sweep's index in place)."""
        next_list = time.monotonic() + self.settings.db_poll_interval
        while not self._stop.is_set():
            if time.monotonic() >= next_list:
                self._refresh_dbs(self._prepare_room(), install=False)
                next_list = time.monotonic() + self.settings.db_poll_interval
            elif self._unprepared:
                if room := self._prepare_room():
                    self._prepare_more(room, install=False)
                else:     # far enough ahead of the first reads
                    self._stop.wait(0.01)
            elif not self._install_more(self.settings.prepare_per_pass):
                self._stop.wait(min(0.2, max(0.0, next_list - time.monotonic())))

    def _prepare_room(self) -> int:
        """How many databases the lister may prepare now: `prepare_per_pass`, within
        `prepared_ahead` of the first reads (thousands prepared at once would take the
        server from the reads that find the first requests)."""
        ahead = self.settings.prepared_ahead - len(self._unread)
        return max(0, min(self.settings.prepare_per_pass, ahead))

    def _refresh_dbs(self, at_most: int | None = None, install: bool = True) -> None:
        """List the number databases; prepare `at_most` of those first seen now (all by
        default), the others in the next passes (`_prepare_more`)."""
        try:
            dbs = self.couch.number_dbs()
        except StorageError as exc:
            log.warning("cannot list databases: %s", exc)
            return
        for db in set(self._feeds) - set(dbs):
            self._feeds.pop(db)
            self._unread.discard(db)
        self._unprepared = [db for db in dbs if db not in self._feeds]
        self._prepare_more(at_most, install)

    def _prepare_more(self, at_most: int | None = None, install: bool = True) -> None:
        new = self._unprepared if at_most is None else self._unprepared[:at_most]
        self._unread.update(new)       # not read once yet, from now on (see ColdPoll)
        # at start, a snapshot spares each database it knows its checkpoint read and its
        # design documents' check; where `_db_updates` resumes from the snapshot's
        # position, it spares the first read too of those the snapshot does not name
        snap = None if self._resumed.is_set() else self._snapshot
        resuming = snap is not None and snap.db_updates is not None and \
            self._db_updates is not None

        def one(db: str) -> DbFeed | None:
            known = (snap.seqs[db], db in snap.checked) if snap and db in snap.seqs else None
            return prepare(self.couch, db, CHECKPOINT, install, known)

        for db, feed in zip(new, self._few_at_a_time(one, new)):
            if feed is None or db in self._feeds:
                self._unread.discard(db)     # not now: listed again, then prepared
                continue
            self._feeds[db] = feed
            if feed.read_seq not in (None, 0, "0") and (
                    snap is None or db not in snap.seqs or db in snap.work):
                # its position may have passed a request left unfinished (a retry
                # waiting, a claim of a worker that died): the next sweep reads it
                with self._lock:
                    self._work[db] = time.monotonic()
            # no first read: nothing was written past its position, or `_db_updates` names
            # it if it changed since the snapshot (where the server said it did, it is
            # read now: not after every database is followed); unless the snapshot names it
            followed = feed.unchanged is True or (
                resuming and db in snap.seqs and feed.unchanged is None)
            if followed and not (snap and db in snap.named):
                self._unread.discard(db)
                continue
            with self._lock:
                self._dirty[db] = None
        # listed and not followed until now: ready (`_following_all`) waits for these
        self._unprepared = self._unprepared[len(new):]
        if not self._unprepared:
            self._resumed.set()

    def _following_all(self) -> bool:
        """Every database listed is followed, its design documents checked."""
        return not self._unprepared and all(f.installed for f in list(self._feeds.values()))

    def _install_more(self, at_most: int) -> bool:
        """Design documents checked in up to `at_most` followed databases not checked yet;
        False when there were none."""
        todo = [db for db, feed in list(self._feeds.items()) if not feed.installed][:at_most]

        def one(db: str) -> None:
            try:
                self._install(db)
            except StorageError as exc:     # checked again in the next round
                log.warning("design documents of %s: %s", db, exc)

        self._few_at_a_time(one, todo)
        return bool(todo)

    def _install(self, db: str) -> None:
        """Check `db`'s design documents, and mark its feed checked (StorageError: not now)."""
        self.couch.install_design_docs(db)
        feed = self._feeds.get(db)
        if feed is not None:
            feed.installed = True

    def _few_at_a_time(self, job: Any, dbs: list[str]) -> list[Any]:
        """`job(db)` for each, `prepare_threads` at a time; stopping: None for the rest."""
        with ThreadPoolExecutor(max(1, min(len(dbs), self.settings.prepare_threads))) as pool:
            return list(pool.map(lambda db: None if self._stop.is_set() else job(db), dbs))

    def _start_db_updates(self) -> None:
        """Where `_db_updates` answers, a longpoll on it tells which databases changed;
        from the snapshot's position, once every database the snapshot knows is followed."""
        if not self.settings.db_updates:
            self._db_updates_ok, self._db_updates = False, None
            return
        since = self._snapshot.db_updates if self._snapshot else None
        feed = DbUpdates(self.couch, self._named, self._stop, since,
                         None if since is None else self._resumed)
        self._db_updates_ok = feed.start()
        self._db_updates = feed if self._db_updates_ok else None

    def _save_snapshot(self) -> None:
        """Where every feed stands, for a restart (engine/snapshot.py): each feed's position
        past its finished requests, and named, every database read since with requests
        unfinished, or named and not read yet."""
        since = self._db_updates.since if self._db_updates else None   # before the names
        with self._lock:
            named = set(self._dirty) | self._unread
        seqs: dict[str, Any] = {}
        checked: set[str] = set()
        for db, feed in list(self._feeds.items()):
            seqs[db] = feed.done_seq if feed.done_seq is not None else feed.saved_seq
            if feed.installed:
                checked.add(db)
            if feed.batches:
                named.add(db)
        with self._lock:    # after the positions: a database leaves it only once swept clean
            work = set(self._work)
        self._snapshots.save(Snapshot(seqs, checked, named & set(seqs), since,
                                      work & set(seqs), self._backstop.known()))

    def _changed(self, dbs: set[str]) -> None:
        with self._lock:
            self._dirty.update(dict.fromkeys(sorted(dbs)))
        self._wake.set()

    def _hot_longpolls(self) -> bool:
        """Whether a longpoll follows each database active lately (`HotFeeds`): where the
        server honours a longpoll's timeout (CouchDB)."""
        return self.couch.profile.longpoll_timeout and self.settings.hot_longpolls > 0

    def _named(self, dbs: set[str]) -> None:
        """Named by `_db_updates`: the loop wakes for a database its passes do not read
        unnamed (`_hot`: none by default, where `_db_updates` answers). Those are read on
        every pass, and under load every write names its database (the worker's own too):
        a wake for one would be a pass that reads them all again. So for those it wakes
        the loop only where no longpoll of its own does (`HotFeeds`: not on the embedded
        server) and the loop sleeps longer than `LONG_SLEEP`: the request that follows a
        request after a quiet while is not left to the idle sleep."""
        hot = set(self._hot(time.monotonic()))     # read on every pass
        with self._lock:
            self._dirty.update(dict.fromkeys(sorted(dbs)))
        active = dbs <= hot
        if not active or (not self._hot_longpolls() and self._asleep_for > LONG_SLEEP):
            self._wake.set()

    def _poll_feeds(self, everything: bool = False, ended: set[str] | None = None) -> bool:
        """One pass over the feeds; True when there is more to do at once. `everything`:
        every feed (`--once`). `ended`, a round of `--once`: the feeds read to their end,
        not read again in the round; each one read to its end joins it (before, every feed
        was read again at each pass while one had more: 37 reads of each idle database for
        400 requests in one; at 10,000 databases, 10,000 reads a pass)."""
        if self._room() <= 0:   # read no further ahead than the pool can take
            self._stop.wait(0.005)
            return True
        now = time.monotonic()
        # the active databases a pass reads unnamed first (`_hot`); then those named (by
        # `_db_updates`, the ColdPoll, a full page, or first found), the active ones first
        # (a database's next page, the request that follows a request: not behind thousands
        # first found at start-up), at most `reads_per_pass` of them: a pass stays short
        # however many are named at once, so the active ones and the pool are served again
        # soon
        hot = [db for db in self._feeds if ended is None or db not in ended] if everything \
            else self._hot(now)
        with self._lock:
            for db in hot:
                self._dirty.pop(db, None)
            named = [db for db in self._dirty if db in self._active] + \
                [db for db in self._dirty if db not in self._active]
            named = named[:None if everything else self.settings.reads_per_pass]
            for db in named:
                del self._dirty[db]
            more = bool(self._dirty)
        order = [db for db in hot + named if db in self._feeds]
        active = False
        # a few databases are read at once, each page sized to its share of the room the
        # pool has
        for start in range(0, len(order), self.settings.read_threads):
            chunk = order[start:start + self.settings.read_threads]
            room = self._room()
            if room <= 0:       # the rest first in the next pass
                with self._lock:
                    self._dirty = {**dict.fromkeys(order[start:]), **self._dirty}
                return True
            limit = max(1, min(self.settings.batch, room // len(chunk)))
            for db, page in zip(chunk, self._io.map(lambda db: self._read(db, now, limit),
                                                    chunk)):
                if page is not None:
                    active = self._take_page(db, page, limit) or active
                    if ended is not None and len(page.results) < limit:
                        ended.add(db)
        return active or more

    def _hot(self, now: float) -> list[str]:
        """The active databases a pass reads: each one, or, where `_db_updates` names every
        change, the `hot_per_pass` latest: the others are read when named (a pass's cost is
        bounded however many databases a trickle keeps active)."""
        active = self._active_dbs(now)
        if not self._db_updates_ok or len(active) <= self.settings.hot_per_pass:
            return active
        feeds = self._feeds

        def latest(db: str) -> float:
            feed = feeds.get(db)
            return feed.changed_at if feed is not None else 0.0

        return sorted(active, key=latest, reverse=True)[:self.settings.hot_per_pass]

    def _active_dbs(self, now: float) -> list[str]:
        """The databases whose feed showed a request within `hot_for`: a pass costs what
        is active, not a look at each of thousands of feeds (3 ms at 10,000)."""
        with self._lock:
            self._active = {db for db in self._active if self._still_active(db, now)}
            return sorted(self._active)

    def _still_active(self, db: str, now: float) -> bool:
        """Its feed (still listed) showed a request within `hot_for`."""
        feed = self._feeds.get(db)
        return feed is not None and feed.active_for(now, self.settings.hot_for) > 0

    def _read(self, db: str, now: float, limit: int) -> Any:
        self._unread.discard(db)    # read once (or tried: the cold poll looks at it later)
        feed = self._feeds.get(db)
        if feed is None:      # gone from the listing meanwhile
            return None
        feed.next_poll = now + self.settings.cold_poll_interval   # just looked at
        try:
            return self.couch.changes(db, feed.read_seq or 0, limit=limit)
        except StorageError as exc:
            log.warning("changes of %s: %s", db, exc)
            return None

    def _take_page(self, db: str, page: Any, limit: int) -> bool:
        """Offer a feed page's pending requests; True if the feed moved."""
        feed = self._feeds.get(db)
        if feed is None:
            return False
        docs = [row["doc"] for row in page.results
                if not row.get("deleted") and protocol.is_pending(row.get("doc") or {})]
        if docs:   # active: read every pass for a while; the sweep looks after it
            feed.changed_at = time.monotonic()
            with self._lock:
                self._work[db] = feed.changed_at
                self._active.add(db)
        futures = self._offer_page(db, docs)
        moved = bool(page.results) and page.last_seq != feed.read_seq
        if moved:
            feed.batches.append((page.last_seq, futures, len(page.results)))
            self._moving.add(db)
            if len(page.results) >= limit:
                with self._lock:
                    self._dirty[db] = None
        feed.read_seq = page.last_seq
        return moved

    def _advance_checkpoints(self, final: bool = False) -> None:
        """Checkpoints of the feeds read since (not of every database: a pass costs what
        moved), each past the pages whose requests are all finished; one database's at
        most every `checkpoint_interval`, and `checkpoints_per_pass` in all (`final`: every
        one, at stop)."""
        due: list[tuple[str, DbFeed, Any]] = []
        now = time.monotonic()
        for db in sorted(self._moving):
            feed = self._feeds.get(db)
            if feed is None:
                self._moving.discard(db)
                continue
            # a request cancelled at shutdown was not processed: the checkpoint stays before it
            while feed.batches and all(f.done() and not f.cancelled()
                                       for f in feed.batches[0][1]):
                feed.done_seq = feed.batches.pop(0)[0]
            self.metrics.per_database(self.metrics.feed_lag, db, feed.lag())
            if feed.done_seq is None or feed.done_seq == feed.saved_seq:
                if not feed.batches:
                    self._moving.discard(db)
            elif final or now - feed.saved_at >= self.settings.checkpoint_interval:
                due.append((db, feed, feed.done_seq))

        def save(item: tuple[str, DbFeed, Any]) -> None:
            db, feed, seq = item
            try:
                self.couch.put_local(db, CHECKPOINT, {"seq": seq, "worker": self.worker})
                feed.saved_seq, feed.saved_at = seq, time.monotonic()
            except StorageError as exc:
                log.warning("checkpoint of %s: %s", db, exc)

        if not final:    # thousands due at once (a first run): the oldest first, the rest later
            due = sorted(due, key=lambda item: item[1].saved_at)[
                :self.settings.checkpoints_per_pass]
        list(self._io.map(save, due))

    def _start_over(self, db: str) -> None:
        """A database whose kzcarrier index is gone was created again (or had its design
        document removed): install it again and read its feed from the start (requests are
        idempotent; replaying costs reads, never a second carrier call)."""
        log.warning("%s has no kzcarrier index: created again? reading it from the start", db)
        self.couch.forget_db(db)
        self.couch.install_design_docs(db)
        feed = self._feeds.get(db)
        if feed is not None:
            feed.read_seq = feed.saved_seq = feed.done_seq = 0
            feed.installed = True
            feed.batches.clear()
        with self._lock:
            self._dirty[db] = None
        self._wake.set()

