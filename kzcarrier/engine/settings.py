"""The watcher's settings: its pool, its pace, and what bounds each cost
(design_docs/engine.md, "Finding work without visiting every database")."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WatchSettings:
    pool_size: int = 16
    sweep_interval: float = 30.0
    db_poll_interval: float = 5.0
    heartbeat_interval: float = 5.0
    steal_after: float = 10.0
    idle_sleep_max: float = 0.5
    batch: int = 500
    group_size: int = 100
    purge_every: int = 20        # full sweeps between purges of expired discovery documents
    full_sweep_interval: float = 600.0   # a sweep over every database (see _sweep)
    # a database with a request this recently is active: followed by a longpoll where the
    # server can (`HotFeeds`), and, where `_db_updates` does not answer, read every pass
    hot_for: float = 30.0
    # where `_db_updates` names every change, only this many of them, the latest, are read
    # on every pass unnamed: none, by default. The names, and on CouchDB the longpolls of
    # `HotFeeds`, find their next request; reading each active one at every pass (a pass
    # every 10 ms while work goes on) cost 917 requests a second to serve a trickle of 25
    # a second into different databases, 248 without
    hot_per_pass: int = 0
    # follow `_db_updates` where the server answers it (CouchDB, the embedded server); off
    # (`watch --no-db-updates`: a CouchDB whose `[global_changes]` records nothing answers
    # it and never names a database), the cold poll below looks at idle databases in turn
    db_updates: bool = True
    # without `_db_updates`, the others: each looked at no more often than this, and no
    # more than `cold_reads_per_s` a second in all (the idle cost), the most overdue first
    cold_poll_interval: float = 0.5
    cold_reads_per_s: float = 200.0
    # where the server honours a longpoll's timeout (CouchDB), this many of the databases
    # active lately are followed by a longpoll each: the next request wakes the loop at
    # once (engine/dbfeed.py, HotFeeds)
    hot_longpolls: int = 16
    prepare_threads: int = 8     # databases first seen are prepared this many at a time,
    prepare_per_pass: int = 128  # and by a live watcher this many between two passes,
    # while fewer than this many are prepared and not read once: the lister stays this
    # far ahead of the first reads, and the server's time goes to both in turn
    prepared_ahead: int = 256
    read_threads: int = 8        # feeds read (and checkpoints written) this many at a time
    reads_per_pass: int = 64     # beyond the active databases, feeds read in one pass
    checkpoints_per_pass: int = 16   # checkpoints written in one pass, the oldest first
    # a feed's checkpoint is written at most this often while its requests keep coming (and
    # at stop): after a crash, at most about this much of the feed is read again
    checkpoint_interval: float = 1.0
    # where every feed stands, written in the service database this often (and at stop):
    # a restart resumes from it (engine/snapshot.py)
    snapshot_interval: float = 30.0
    read_ahead: int = 4          # requests handed to the pool, per slot (at least two groups)
    forget_workers_after: float = 20.0   # heartbeat intervals: then a dead worker's record goes
