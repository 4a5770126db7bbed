"""Cost that follows the work, not the number of databases (issue: 10,000 databases).
The figures at 1,000 and 10,000 databases are scripts/bench_scale.py's; these tests hold
the rules that make them."""
import dataclasses
import threading
import time
from collections import Counter
from urllib.parse import unquote

from engine_helpers import (
    CHILD,
    FAST,
    RESELLER,
    Background,
    count_requests,
    db_of,
    db_updates_proxy,
    record_requests,
    request,
    views_read,
    wait_until,
)

from kzcarrier.engine import protocol, snapshot
from kzcarrier.engine.dbfeed import ColdPoll, DbFeed, HotFeeds
from kzcarrier.engine.feeds import CHECKPOINT
from kzcarrier.engine.watcher import Watcher
from kzcarrier.numbers import SERVICE_DB

IDLE = [f"numbers/+12{i:02d}" for i in range(30)]
BUSY = "+14155550188"
# sweeps over every database only at start-up (within these tests)
PARTIAL = dataclasses.replace(FAST, full_sweep_interval=3600.0)


def idle_dbs(couch):
    for db in IDLE:
        couch.ensure_db(db)
        couch.put(db, {"_id": db[-5:] + "5550000", "pvt_type": "number",
                       "pvt_state": "available", "pvt_module_name": "knm_local"})


def feeds_read(w) -> None:
    """`w`'s databases listed and their feeds read once: each has a position."""
    w._refresh_dbs()
    w._poll_feeds(everything=True)
    w._wait_inflight()


def idle_feeds_read(seen) -> set[str]:
    """Of the idle databases, those whose feed was read, of `seen`."""
    return {db for db in IDLE if seen[f"changes of {db}"]}


def full_sweep(w, seen, view: str = "kzcarrier/") -> set[str]:
    """One full sweep by `w`: the databases whose index (`view`) it read."""
    seen.clear()
    w._next_full = 0.0
    w._sweep()
    return views_read(seen, view)


def test_a_sweep_reads_only_databases_with_unfinished_requests(loaded, monkeypatch):
    c = loaded.couch
    idle_dbs(c)
    c.ensure_db(db_of(BUSY))
    # a request another (live) worker is working on: unfinished, not this worker's
    c.put(db_of(BUSY), {"_id": BUSY, "pvt_request": {"id": "r1", "operation": "move",
                                                     "options": {"assign_to": CHILD}},
                        "pvt_request_state": {"id": "r1", "status": "running",
                                              "worker": "other",
                                              "claim_expires": protocol.now() + 3600}})
    w = Watcher(c, loaded.config, PARTIAL)
    feeds_read(w)                                 # positions
    seen = count_requests(c, monkeypatch)
    w._sweep()
    assert set(IDLE) <= views_read(seen)              # the first sweep reads every one
    seen.clear()
    w._sweep()
    assert views_read(seen) == {db_of(BUSY)}          # then only where work is


def test_a_full_sweep_reads_only_the_databases_changed_since_its_last_look(
        loaded, monkeypatch):
    """The full sweep, the backstop for what no feed of this worker showed, read every
    database's index: 10,000 reads every ten minutes at 10,000 databases, idle or not.
    Once it has looked at them, it asks `_dbs_info` (one request per 100 databases)
    which changed, and reads those alone: a request no feed of this worker read is
    still found and done."""
    c = loaded.couch
    idle_dbs(c)
    w = Watcher(c, loaded.config, PARTIAL)
    try:
        feeds_read(w)                                 # positions
        seen = count_requests(c, monkeypatch)
        assert set(IDLE) <= full_sweep(w, seen)      # the first look reads every one
        assert not full_sweep(w, seen)               # nothing changed: no index read
        assert seen["read _dbs_info"] == -(-len(w._feeds) // 100)
        num = IDLE[7][-5:] + "5550000"     # its feed is not read again in this test
        request(c, num, "move", assign_to=CHILD)
        assert full_sweep(w, seen) == {IDLE[7]}
        w._wait_inflight()
        doc = c.get(IDLE[7], num)
        assert doc["pvt_request_state"]["status"] == "completed"
        assert doc["pvt_assigned_to"] == CHILD
        assert full_sweep(w, seen) == {IDLE[7]}      # its outcome is a change: once more
    finally:
        w._pool.shutdown(wait=True)


def test_on_a_cluster_an_unchanged_database_is_not_read_whichever_copies_answer(
        loaded, monkeypatch):
    """A cluster answers `_dbs_info` from whichever copy of each shard answers first, and
    its seqs name those copies: an unchanged database shows another fingerprint when
    another copy answers (here the fault proxy's three copies, in turn). Before, each such
    look read its index again: on a cluster, a full sweep read most databases, idle or
    not. Once each copy has answered, a full sweep with nothing changed reads none; a
    write is still found, whichever copy answers."""
    from faultproxy import FaultProxy

    from kzcarrier.couch.client import Couch

    c = loaded.couch
    idle_dbs(c)
    proxy = FaultProxy(c.url).start()
    proxy.replicas = 3
    via = Couch(proxy.url)
    w = Watcher(via, loaded.config, PARTIAL)
    try:
        feeds_read(w)
        seen = count_requests(via, monkeypatch)
        for _ in range(3):    # a fingerprint not seen yet: each copy in turn, read
            assert set(IDLE) <= full_sweep(w, seen)
        assert not full_sweep(w, seen)     # the first copy again: nothing read
        num = IDLE[7][-5:] + "5550000"     # its feed is not read again in this test
        request(c, num, "move", assign_to=CHILD)
        assert full_sweep(w, seen) == {IDLE[7]}
        w._wait_inflight()
        assert c.get(IDLE[7], num)["pvt_request_state"]["status"] == "completed"
    finally:
        w._pool.shutdown(wait=True)
        proxy.stop()


def test_the_purge_of_expired_discovery_reads_the_databases_changed_or_with_some_left(
        loaded, monkeypatch):
    """Every `purge_every` full sweeps, expired discovery documents are deleted. That
    read every database's index too; now only those changed since their last purge, and
    those where it left discovery documents (not expired yet)."""
    c = loaded.couch
    idle_dbs(c)
    kept, gone = IDLE[10], IDLE[11]
    for db, expires in ((kept, protocol.now() + 3600), (gone, protocol.now() - 60)):
        c.put(db, {"_id": db[-5:] + "5550001", "pvt_type": "number",
                   "pvt_state": "discovery", "pvt_module_name": "knm_acme",
                   "pvt_discovery_expires": expires})

    w = Watcher(c, loaded.config, dataclasses.replace(PARTIAL, purge_every=1))
    try:
        feeds_read(w)
        seen = count_requests(c, monkeypatch)
        purged = full_sweep(w, seen, "numbers/status ")
        assert set(IDLE) <= purged                   # the first purge reads every one
        assert c.get(gone, gone[-5:] + "5550001", missing_ok=True) is None
        assert c.get(kept, kept[-5:] + "5550001")
        for left in ({kept, gone}, {kept}):   # gone: changed by its purge, once
            # (of the fixtures' databases, one holds discovery documents too)
            assert full_sweep(w, seen, "numbers/status ") & set(IDLE) == left
    finally:
        w._pool.shutdown(wait=True)


def test_a_stop_ends_a_full_sweep_in_progress(loaded, monkeypatch):
    """A full sweep's first look reads every database (10,000 indexes took over five
    minutes on the test server): the watcher's stop ends it, not the last database."""
    c = loaded.couch
    idle_dbs(c)
    w = Watcher(c, loaded.config, PARTIAL)
    try:
        feeds_read(w)
        seen = count_requests(c, monkeypatch)
        record_requests(c, monkeypatch, lambda what: 0.1 if what.startswith("view ") else 0)
        w._next_full = 0.0
        sweep = threading.Thread(target=w._sweep)
        sweep.start()
        time.sleep(0.5)
        w._stop.set()
        sweep.join(2.0)
        assert not sweep.is_alive()
        assert len(views_read(seen)) < len(IDLE) // 2
    finally:
        w._pool.shutdown(wait=True)


def test_a_request_the_feed_offered_is_looked_after_by_the_next_sweeps(loaded, acme):
    """A first attempt that fails transiently is retried by a sweep: the database is on
    the sweep's list because its feed offered the request, long before a full sweep."""
    c = loaded.couch
    idle_dbs(c)
    c.ensure_db(db_of("+14155550199"))
    c.put(db_of("+14155550199"), {"_id": "+14155550199", "pvt_state": "discovery",
                                  "pvt_module_name": "knm_acme"})
    with Background(c, loaded.config, "scale", settings=PARTIAL) as w:
        assert w.ready.wait(30)
        acme.TRANSIENT["+14155550199"] = 1       # first attempt: 503, retried after a backoff
        request(c, "+14155550199", "move", assign_to=CHILD, auth_by=CHILD)
        assert wait_until(lambda: not protocol.is_pending(c.get(db_of("+14155550199"),
                                                                "+14155550199")), 30)
    doc = c.get(db_of("+14155550199"), "+14155550199")
    assert doc["pvt_request_state"]["status"] == "completed"


def test_databases_are_prepared_with_two_requests_each(loaded, monkeypatch):
    c = loaded.couch
    idle_dbs(c)
    for db in IDLE:
        c.install_design_docs(db)     # in place, as after a first run
    seen = count_requests(c, monkeypatch)
    w = Watcher(c, loaded.config, PARTIAL)
    w._refresh_dbs()
    assert set(IDLE) <= set(w._feeds)
    per_db = {db: sum(n for what, n in seen.items() if what.endswith(f" {db}")
                      or f" from {db}" in what or f" of {db}" in what or f" in {db}" in what)
              for db in IDLE}
    assert max(per_db.values()) <= 2, per_db      # design documents in one read, checkpoint


def test_idle_databases_wait_their_interval_and_active_ones_are_read_every_pass(
        loaded, monkeypatch):
    c = loaded.couch
    idle_dbs(c)
    c.ensure_db(db_of(BUSY))
    slow = dataclasses.replace(PARTIAL, hot_for=1.0)
    w = Watcher(c, loaded.config, slow)
    w._refresh_dbs()
    w._poll_feeds()                            # the first pass reads every database
    time.sleep(1.2)                            # ... and now none of them changed lately
    request(c, BUSY, "create", assign_to=CHILD)
    w._poll_feeds(everything=True)             # its change is read: active now
    w._poll_feeds()
    seen = count_requests(c, monkeypatch)
    for _ in range(3):
        w._poll_feeds()
        time.sleep(0.01)
    feeds = Counter({what.split(" of ", 1)[1]: n for what, n in seen.items()
                     if what.startswith("changes of")})
    assert feeds[db_of(BUSY)] == 3, seen
    assert not set(feeds) & set(IDLE)             # idle ones: only when named
    w._poll_feeds(everything=True)                # `watch --once` reads them all
    w.stop()


def test_a_live_watcher_starts_without_reading_every_index(loaded, monkeypatch):
    """Its feeds resume from checkpoints: an idle database costs its preparation and
    feed reads at start, not an index read (the full sweep comes later)."""
    c = loaded.couch
    idle_dbs(c)
    seen = count_requests(c, monkeypatch)
    with Background(c, loaded.config, "start", settings=PARTIAL) as w:
        assert w.ready.wait(30)
        time.sleep(1.0)
    assert not views_read(seen) & set(IDLE)
    assert {what.split(" of ", 1)[1] for what in seen if what.startswith("changes of")} \
        >= set(IDLE)


def test_a_pass_reads_the_databases_active_lately_without_looking_at_the_idle_ones(
        loaded, monkeypatch):
    """A pass reads every database whose feed showed a request within `hot_for`, and finds
    them without a look at each idle feed (at 10,000 databases that look cost 3 ms a pass,
    every 10 ms under load); once `hot_for` has passed, a database is read no more. A
    database named by `_db_updates` wakes the loop unless it is active and followed by a
    longpoll of its own, or active while the loop passes often anyway."""
    c = loaded.couch
    idle_dbs(c)
    w = Watcher(c, loaded.config, dataclasses.replace(PARTIAL, hot_for=1.0))
    w._refresh_dbs()
    while w._poll_feeds(everything=True):
        pass
    w._wait_inflight()
    num = IDLE[4][-5:] + "5550000"
    request(c, num, "move", assign_to=CHILD)
    w._changed({IDLE[4]})
    w._poll_feeds()                                  # named: read, its request offered
    w._wait_inflight()
    looked: list[DbFeed] = []
    original = DbFeed.active_for
    monkeypatch.setattr(DbFeed, "active_for", lambda self, now, hot_for: (
        looked.append(self), original(self, now, hot_for))[1])
    seen = count_requests(c, monkeypatch)
    w._poll_feeds()
    assert seen[f"changes of {IDLE[4]}"] == 1 and len(looked) <= 1, (seen, len(looked))
    # `_db_updates` naming it (its own writes, under load) wakes the loop only where no
    # longpoll of its own does (CouchDB: `HotFeeds`), and only out of a long sleep;
    # naming one idle does, everywhere
    for asleep_for, wakes in ((0.01, False), (0.5, not w._hot_longpolls())):
        w._asleep_for = asleep_for
        w._wake.clear()
        w._named({IDLE[4]})
        assert w._wake.is_set() == wakes, asleep_for
    profile = c.profile
    c._profile = dataclasses.replace(profile, longpoll_timeout=True)    # as on CouchDB
    try:
        w._wake.clear()
        w._named({IDLE[4]})
        assert not w._wake.is_set()
        w._named({IDLE[4], IDLE[6]})
        assert w._wake.is_set()
    finally:
        c._profile = profile
    w._poll_feeds()
    assert seen[f"changes of {IDLE[6]}"] == 1
    time.sleep(1.1)
    seen.clear()
    w._poll_feeds()
    assert not [what for what in seen if what.startswith("changes of")]


def test_idle_databases_are_looked_at_apart_at_a_bounded_rate_most_overdue_first(
        loaded, monkeypatch):
    """Without `_db_updates`, idle databases are looked at by a thread of their own, never
    faster than `per_second` in all, so thousands of them neither slow the watcher's passes
    (its active databases' latency) nor load the server without bound; a change in one of
    them is named to the watcher."""
    c = loaded.couch
    idle_dbs(c)
    w = Watcher(c, loaded.config, dataclasses.replace(PARTIAL, hot_for=0.0))
    w._refresh_dbs()
    w._poll_feeds(everything=True)
    named: list[set] = []
    stop = threading.Event()
    poll = ColdPoll(c, lambda: w._feeds, hot_for=0.0, interval=0.0, per_second=20.0,
                    changed=named.append, stop=stop)
    seen = count_requests(c, monkeypatch)
    order: list[str] = []
    original = c.changes
    monkeypatch.setattr(c, "changes", lambda db, *a, **k: (order.append(db),
                                                           original(db, *a, **k))[1])
    poll.start()
    time.sleep(1.0)
    looked = sum(n for what, n in seen.items() if what.startswith("changes of"))
    assert 10 <= looked <= 23, looked             # 20 a second, whatever is due
    assert len(set(order[:15])) == len(order[:15])   # the most overdue first: none twice
    assert not named                              # nothing changed: nothing named
    c.put(IDLE[7], {"_id": IDLE[7][-5:] + "5550001", "pvt_state": "available"})
    assert wait_until(lambda: {IDLE[7]} in named, 5)
    stop.set()
    seen.clear()
    w._poll_feeds()                               # the watcher's own pass: none of them
    assert not any(what.startswith("changes of") for what in seen)


def test_a_live_watcher_prepares_databases_a_few_a_pass_and_is_ready_when_all_are(loaded):
    """Thousands of databases first seen do not hold up the first request: the first
    ones' feeds are read while the rest wait their turn; ready means every one followed."""
    c = loaded.couch
    idle_dbs(c)
    c.ensure_db(db_of(BUSY))
    request(c, BUSY, "create", assign_to=CHILD)
    few = dataclasses.replace(PARTIAL, prepare_per_pass=4)
    w = Watcher(c, loaded.config, few)
    w._refresh_dbs(few.prepare_per_pass)
    assert len(w._feeds) == 4 and len(w._unprepared) >= 27
    w._prepare_more(few.prepare_per_pass)
    assert len(w._feeds) == 8
    with Background(c, loaded.config, "chunks", settings=few) as live:
        assert live.ready.wait(30)
        assert not live._unprepared and set(IDLE) | {db_of(BUSY)} <= set(live._feeds)
        assert wait_until(lambda: not protocol.is_pending(c.get(db_of(BUSY), BUSY)), 30)


def numbers_with_requests(c, n):
    nums = [f"+1415555{i:04d}" for i in range(n)]
    c.ensure_db(db_of(nums[0]))
    c.bulk_save(db_of(nums[0]), [
        {"_id": num, "pvt_state": "available", "pvt_module_name": "knm_local",
         "pvt_request": {"id": f"r{num}", "operation": "move",
                         "options": {"assign_to": CHILD}}} for num in nums])
    return nums


def test_watch_once_reads_the_request_index_once_when_every_request_ends(
        loaded, monkeypatch):
    """`watch --once` sweeps before it reads the feeds, and ends without sweeping again
    when every request it handled ended: the index is brought up to date over the
    requests, never again over their outcomes. A database without a checkpoint (a first
    run) is not swept at all: its feed, read from the start, shows every document; nor is
    one the last run's snapshot leaves without unfinished requests. Without a snapshot,
    a database with a checkpoint is swept once."""
    c = loaded.couch
    nums = numbers_with_requests(c, 40)
    seen = count_requests(c, monkeypatch)
    index = f"view kzcarrier/requests of {db_of(nums[0])}"
    assert Watcher(c, loaded.config, PARTIAL).run(once=True) == 0
    assert all(c.get(db_of(n), n)["pvt_request_state"]["status"] == "completed"
               for n in nums)
    assert seen[index] == 0                       # first run: the feed from the start
    for again, expected in ((False, 0), (True, 1)):
        for num in nums:                          # more requests, the checkpoint written
            request(c, num, "move", assign_to=CHILD)
        if again:                                 # no snapshot (another version's)
            c.put_local(SERVICE_DB, snapshot.HEAD, {"version": 0})
        seen.clear()
        assert Watcher(c, loaded.config, PARTIAL).run(once=True) == 0
        assert not any(protocol.is_pending(c.get(db_of(n), n)) for n in nums)
        assert seen[index] == expected


def test_watch_once_reads_each_feed_to_its_end_once_a_round_not_at_every_pass(
        loaded, monkeypatch):
    """`watch --once` reads every feed to its end, twice (the second read shows its own
    writes). It read every feed again at each pass while one had more: 37 reads of each
    idle database for 400 requests in one, and at 10,000 databases a pass is 10,000
    reads. Now a feed read to its end is not read again in the same round."""
    c = loaded.couch
    idle_dbs(c)
    nums = numbers_with_requests(c, 400)
    seen = count_requests(c, monkeypatch)
    assert Watcher(c, loaded.config, PARTIAL).run(once=True) == 0
    assert not any(protocol.is_pending(d) for d in c.bulk_get(db_of(nums[0]), nums).values())
    assert seen[f"changes of {db_of(nums[0])}"] > 4       # in pages, pass after pass
    assert max(seen[f"changes of {db}"] for db in IDLE) == 2      # once a round


def test_status_reads_no_feed_of_a_database_caught_up_and_shows_those_with_something(
        loaded, monkeypatch):
    """`kzcarrier status` read every database one after another: its counts, its request
    index, its checkpoint and its feed from there, and showed a row of zeros for each:
    at 10,000 databases, 40,000 requests in turn and 10,000 rows. Now a database whose
    `_dbs_info` seq is its checkpoint's has no feed read, one without unfinished requests
    no index read, and only those with something to show are shown."""
    from kzcarrier.engine.admin import status

    c = loaded.couch
    idle_dbs(c)
    assert Watcher(c, loaded.config, PARTIAL).run(once=True) == 0     # checkpoints
    num = IDLE[3][-5:] + "5550000"
    request(c, num, "move", assign_to=CHILD)                          # not done yet
    seen = count_requests(c, monkeypatch)
    data = status(c)
    assert data["databases_listed"] >= len(IDLE)
    assert set(data["databases"]) & set(IDLE) == {IDLE[3]}
    row = data["databases"][IDLE[3]]
    assert (row["pending"], row["feed_lag"]) == (1, 1)
    assert data["totals"]["pending"] >= 1
    read = {what.split(" of ", 1)[1] for what in seen
            if what.startswith(("changes of", "view kzcarrier/requests of"))}
    assert read & set(IDLE) == {IDLE[3]}


def test_watch_once_does_not_end_while_another_workers_share_is_pending(loaded):
    """Requests left to their owner (another live worker, which here never acts) are
    taken after `steal_after`: the run ends only when they are done too."""
    c = loaded.couch
    nums = numbers_with_requests(c, 20)
    c.ensure_db("kzcarrier")
    c.put("kzcarrier", {"_id": "worker:silent", "type": "worker", "worker": "silent",
                        "heartbeat": protocol.now() + 3600})
    w = Watcher(c, loaded.config, PARTIAL, worker_id="once")
    assert w.run(once=True) == 0
    assert all(c.get(db_of(n), n)["pvt_request_state"]["status"] == "completed"
               for n in nums)


def test_a_slow_server_is_left_room_by_the_cold_poll(loaded):
    """On a server answering slowly, idle databases are looked at no more than half the
    time: whatever `per_second` allows, each look is followed by a pause as long, and the
    active databases' reads find room."""
    from faultproxy import FaultProxy

    from kzcarrier.couch.client import Couch

    c = loaded.couch
    idle_dbs(c)
    w = Watcher(c, loaded.config, dataclasses.replace(PARTIAL, hot_for=0.0))
    w._refresh_dbs()
    proxy = FaultProxy(c.url).start()
    try:
        proxy.delay = 0.05
        stop = threading.Event()
        poll = ColdPoll(Couch(proxy.url), lambda: w._feeds, hot_for=0.0, interval=0.0,
                        per_second=1000.0, changed=lambda dbs: None, stop=stop)
        spans: list[tuple[float, float]] = []
        look = poll.look

        def timed(db, now):
            began = time.monotonic()
            look(db, now)
            spans.append((began, time.monotonic()))

        poll.look = timed
        poll.start()
        time.sleep(1.5)
        stop.set()
    finally:
        proxy.stop()
    assert len(spans) >= 4
    for (b1, e1), (b2, _) in zip(spans, spans[1:]):
        assert b2 - e1 >= 0.9 * (e1 - b1), spans      # a pause as long as the look took


def test_with_db_updates_idle_databases_are_not_read_and_a_request_there_wakes_the_watcher(
        loaded, caplog):
    """Where `_db_updates` answers (here the fault proxy's, batched 0.3 s as CouchDB's
    `_global_changes` batches it), nothing reads idle databases; a request written into
    one is named by `_db_updates` and completed."""
    c = loaded.couch
    idle_dbs(c)
    with db_updates_proxy(c, 0.3) as (proxy, via):
        with Background(via, loaded.config, "dbu",
                        settings=dataclasses.replace(PARTIAL, hot_for=1.0)) as w:
            assert w.ready.wait(30) and w._db_updates_ok
            time.sleep(1.5)                     # nothing active any more
            proxy.seen.clear()
            time.sleep(1.5)
            assert not [path for _, path in proxy.seen if "/_changes" in path]
            num = IDLE[3][-5:] + "5550000"
            request(via, num, "move", assign_to=CHILD)
            assert wait_until(lambda: not protocol.is_pending(c.get(IDLE[3], num)), 10)
            assert c.get(IDLE[3], num)["pvt_request_state"]["status"] == "completed"
    assert not [r for r in caplog.records if "deprecated" in r.getMessage()]   # quiet


def test_on_the_embedded_server_too_idle_databases_are_left_to_db_updates(loaded,
                                                                         monkeypatch):
    """The embedded server answers `_db_updates` (server/dbupdates.js), as CouchDB does:
    no thread looks at the idle databases in turn (the more there are, the later it would
    come to one), and a request written into one is named and completed."""
    c = loaded.couch
    idle_dbs(c)
    sequence = record_requests(c, monkeypatch)
    with Background(c, loaded.config, "dbu",
                    settings=dataclasses.replace(PARTIAL, hot_for=1.0)) as w:
        assert w.ready.wait(30) and w._db_updates_ok
        time.sleep(1.5)                         # nothing active any more
        sequence.clear()
        time.sleep(1.5)
        assert not [what for _, what in sequence if what.startswith("changes of numbers/+12")]
        num = IDLE[5][-5:] + "5550000"
        request(c, num, "move", assign_to=CHILD)
        assert wait_until(lambda: not protocol.is_pending(c.get(IDLE[5], num)), 10)
        assert c.get(IDLE[5], num)["pvt_request_state"]["status"] == "completed"
    assert not [t for t, _ in sequence if t == "kzc-cold-poll"]


def _checkpoint_after_requests(loaded, interval: float):
    """A live watcher over one database; two requests after its start-up checkpoint.
    Returns (the couch, the database, the checkpoint's seq: at start-up, once both requests
    completed and the watcher ran a while, after stop)."""
    c = loaded.couch
    db = db_of(BUSY)
    c.ensure_db(db)

    def saved():
        return (c.get_local(db, CHECKPOINT) or {}).get("seq")

    def completed(num):
        doc = c.get(db, num, missing_ok=True) or {}
        return not protocol.is_pending(doc) and bool(doc.get("pvt_request"))

    settings = dataclasses.replace(PARTIAL, checkpoint_interval=interval)
    with Background(c, loaded.config, settings=settings) as w:
        assert w.ready.wait(30)
        assert wait_until(lambda: saved() is not None, 10)
        at_start = saved()
        for num in (BUSY, "+14155550189"):
            request(c, num, "create", assign_to=CHILD)
            assert wait_until(lambda: completed(num), 30)
        wait_until(lambda: saved() != at_start and not c.changes(db, saved()).results, 3)
        running = saved()
    return c, db, (at_start, running, saved())


def test_a_busy_feeds_checkpoint_is_written_at_most_every_interval_and_at_stop(loaded):
    c, db, (at_start, running, stopped) = _checkpoint_after_requests(loaded, 3600.0)
    assert running == at_start           # requests came within the interval: not written
    assert stopped != at_start           # ... until the watcher stopped
    assert not c.changes(db, stopped).results   # past both requests


def test_a_live_watchers_checkpoint_follows_its_feed_within_the_interval(loaded):
    c, db, (at_start, running, _) = _checkpoint_after_requests(loaded, 0.2)
    assert running != at_start           # written while it runs: a crash replays little
    assert not c.changes(db, running).results


def test_a_live_watcher_finds_every_feed_before_it_checks_design_documents(
        loaded, monkeypatch):
    """What finds requests (a checkpoint read per database) comes before what keeps the
    sweep's index in place: with 10,000 databases, the one holding the first request is
    not found after thousands of design-document checks."""
    c = loaded.couch
    idle_dbs(c)
    sent = record_requests(c, monkeypatch)
    with Background(c, loaded.config,
                    settings=dataclasses.replace(PARTIAL, prepare_per_pass=4)) as w:
        assert w.ready.wait(30)
    sequence = [what for _, what in sent]
    found = [i for i, what in enumerate(sequence)
             if what.startswith(f"get _local/{CHECKPOINT} from numbers/")]
    checked = [i for i, what in enumerate(sequence)
               if what.startswith("read ") and " from numbers/" in what]
    assert len(found) >= len(IDLE) and len(checked) >= len(IDLE)
    assert max(found) < min(checked), "\n".join(sequence[:40])
    assert all(feed.installed for feed in w._feeds.values())     # ready: all checked


def test_a_sweep_checks_the_design_documents_of_a_database_not_checked_yet(loaded):
    """A database whose feed is followed but whose design documents were not checked yet
    (a live watcher checks them last) is not taken for one created again."""
    c = loaded.couch
    db = db_of(BUSY)
    c.ensure_db(db)
    ddoc = c.get(db, "_design/kzcarrier")
    c.bulk_save(db, [{"_id": ddoc["_id"], "_rev": ddoc["_rev"], "_deleted": True}])
    w = Watcher(c, loaded.config, PARTIAL)
    w._refresh_dbs(install=False)
    request(c, BUSY, "create", assign_to=CHILD)
    w._poll_feeds(everything=True)
    w._wait_inflight()
    assert db in w._work
    seq = w._feeds[db].read_seq
    w._sweep()
    assert c.get(db, "_design/kzcarrier", missing_ok=True) is not None
    assert w._feeds[db].read_seq == seq and w._feeds[db].installed   # not read over again


def test_the_cold_poll_waits_while_databases_found_are_not_read_once(loaded, monkeypatch):
    """At start-up the server's time goes to the first read of each database found (one
    never read is likelier to hold a request) before the cold poll looks again at those
    read a moment ago: with 10,000 databases that halves the time to the first request."""
    c = loaded.couch
    idle_dbs(c)
    sequence = record_requests(c, monkeypatch)
    slow = dataclasses.replace(PARTIAL, prepare_per_pass=4, reads_per_pass=2, hot_for=0.0,
                               cold_poll_interval=0.0, db_poll_interval=60.0,
                               db_updates=False)
    with Background(c, loaded.config, settings=slow) as w:
        assert w.ready.wait(30)
        assert wait_until(lambda: any(t == "kzc-cold-poll" for t, _ in sequence), 10)
    prepared: set[str] = set()
    read: set[str] = set()
    looks = 0
    for thread, what in sequence:
        db = what.rsplit(" ", 1)[-1]
        if what.startswith(f"get _local/{CHECKPOINT} from numbers/"):
            prepared.add(db)
        elif what.startswith("changes of numbers/"):
            if thread == "kzc-cold-poll":
                looks += 1
                assert prepared <= read, f"cold look at {db}, {prepared - read} not read"
            else:
                read.add(db)
    assert looks and prepared >= set(IDLE)


def test_a_live_watcher_prepares_no_further_ahead_of_the_first_reads_than_its_bound(
        loaded, monkeypatch):
    """With 10,000 databases the lister, left alone, would prepare them all while the
    loop reads the first few: the server's time would go to checkpoint reads of databases
    far down the list, not to the reads that find the first requests. It stays at most
    `prepared_ahead` databases ahead of the first reads."""
    c = loaded.couch
    idle_dbs(c)
    # a server slower at feeds than at checkpoints
    sent = record_requests(c, monkeypatch,
                           lambda what: 0.02 if what.startswith("changes of numbers/") else 0)
    bound = dataclasses.replace(PARTIAL, prepare_per_pass=4, prepared_ahead=4,
                                reads_per_pass=2, read_threads=1, db_poll_interval=60.0)
    with Background(c, loaded.config, settings=bound) as w:
        assert w.ready.wait(30)
        assert wait_until(lambda: not w._unread, 30)      # every one read once
    prepared: set[str] = set()
    read: set[str] = set()
    ahead = []
    for _, what in list(sent):
        db = what.rsplit(" ", 1)[-1]
        if what.startswith(f"get _local/{CHECKPOINT} from numbers/"):
            prepared.add(db)
            ahead.append(len(prepared - read))
        elif what.startswith("changes of numbers/"):
            read.add(db)
    assert prepared >= set(IDLE) and read >= set(IDLE)
    # one more at most: a read is counted by the lister just before it is recorded here
    assert max(ahead) <= bound.prepared_ahead + 1, ahead


def test_a_database_active_lately_is_followed_by_one_longpoll_naming_its_next_change(
        loaded, monkeypatch):
    """On CouchDB `_db_updates` comes late (batched) and an idle loop sleeps: a database
    active lately has a longpoll open on it, which names its next change at once, with
    one request open and none per pass; a database idle for long has none."""
    c = loaded.couch
    idle_dbs(c)
    db = db_of(BUSY)
    c.ensure_db(db)
    with db_updates_proxy(c, 60.0) as (proxy, via):
        active = DbFeed(read_seq=via.changes(db, 0).last_seq, changed_at=time.monotonic())
        idle = DbFeed(read_seq=via.changes(IDLE[0], 0).last_seq)
        named: list[set[str]] = []
        stop = threading.Event()
        # both in the watcher's active set: the feed's own time says which is active
        hot = HotFeeds(via, lambda: {db: active, IDLE[0]: idle}, lambda now: [IDLE[0], db],
                       30.0, named.append, stop, timeout=5.0)
        seen = count_requests(via, monkeypatch)
        try:
            hot.start()
            time.sleep(1.0)
            assert hot.open == {db} and not named
            assert sum(seen.values()) == 1                  # open, waiting: no polling
            c.put(db, {"_id": BUSY, "pvt_state": "available"})
            assert wait_until(lambda: {db} in named, 2)
            active.read_seq = via.changes(db, active.read_seq).last_seq   # the loop's read
            assert wait_until(lambda: sum(seen.values()) == 3, 2)   # open again, after it
            time.sleep(0.5)
            assert named == [{db}] and sum(seen.values()) == 3
        finally:
            stop.set()


class Unlisted(dict):
    """Feeds that may be looked up by name but not listed."""

    def __iter__(self):
        raise AssertionError("every feed listed")

    def items(self):
        raise AssertionError("every feed listed")

    values = keys = items


def test_with_db_updates_a_pass_reads_the_active_databases_named_alone(
        loaded, monkeypatch):
    """A trickle over many databases keeps hundreds active (25 requests a second into
    different ones: 750 within `hot_for`), and each was read on every pass, a pass every
    10 ms while work goes on: 917 requests a second to serve 25. Where `_db_updates` names
    every change, a pass reads those named, and `hot_per_pass` of the latest active ones
    besides (none by default); a request into an active one is read once named."""
    c = loaded.couch
    idle_dbs(c)
    w = Watcher(c, loaded.config, PARTIAL)
    try:
        feeds_read(w)
        for db in IDLE[:10]:                          # ten databases active, in turn
            request(c, db[-5:] + "5550000", "move", assign_to=CHILD)
            w._poll_feeds(everything=True)
            w._wait_inflight()
        seen = count_requests(c, monkeypatch)
        w._poll_feeds()
        assert idle_feeds_read(seen) == set(IDLE[:10])
        w._db_updates_ok = True                       # each change is named
        seen.clear()
        w._poll_feeds()
        assert not idle_feeds_read(seen)
        w.settings = dataclasses.replace(PARTIAL, hot_per_pass=4)
        w._poll_feeds()
        assert idle_feeds_read(seen) == set(IDLE[6:10])
        num = IDLE[2][-5:] + "5550000"
        request(c, num, "move", assign_to=RESELLER)
        w._named({IDLE[2]})                           # as `_db_updates` names it
        w._poll_feeds()
        w._wait_inflight()
        doc = c.get(IDLE[2], num)
        assert doc["pvt_request_state"]["status"] == "completed"
        assert doc["pvt_assigned_to"] == RESELLER
    finally:
        w._pool.shutdown(wait=True)


def test_an_active_database_named_is_read_before_those_named_earlier(loaded, monkeypatch):
    """A pass reads at most `reads_per_pass` databases named. At start-up thousands are
    named (first found); an active one named (its next page, the request that follows a
    request, now that active ones are not read unnamed) is read first: behind them, the
    start-up burst at 1,000 databases took 2.8 s instead of 1.3."""
    c = loaded.couch
    idle_dbs(c)
    w = Watcher(c, loaded.config, dataclasses.replace(PARTIAL, reads_per_pass=4))
    try:
        feeds_read(w)
        w._db_updates_ok = True
        busy = IDLE[-1]
        w._feeds[busy].changed_at = time.monotonic()
        w._active.add(busy)
        w._changed(set(IDLE[:20]))
        w._changed({busy})
        seen = count_requests(c, monkeypatch)
        w._poll_feeds()
        read = idle_feeds_read(seen)
        assert busy in read and len(read) == 4
    finally:
        w._pool.shutdown(wait=True)


def test_the_longpolls_on_active_databases_are_picked_from_the_active_set_alone():
    """Which databases get a longpoll is decided every 0.2 s: from the watcher's set of
    active databases, the latest first, without a look at every feed (at 10,000
    databases that look took 3 ms each time)."""
    now = time.monotonic()
    feeds = Unlisted({f"numbers/+1{i:03d}": DbFeed(changed_at=now - i) for i in range(40)})
    feeds.update({f"numbers/+2{i:03d}": DbFeed(changed_at=now - 60) for i in range(5)})
    active = [f"numbers/+1{i:03d}" for i in range(40)] + ["numbers/+2000", "numbers/+9999"]
    hot = HotFeeds(None, lambda: feeds, lambda at: active, 30.0, lambda dbs: None,
                   threading.Event(), max_open=16)
    assert hot.hot(now) == [f"numbers/+1{i:03d}" for i in range(16)]
    assert hot.hot(now + 25.5) == [f"numbers/+1{i:03d}" for i in range(5)]


def test_a_live_watcher_follows_its_active_databases_by_longpoll_where_the_server_can(
        loaded):
    c = loaded.couch
    idle_dbs(c)
    with db_updates_proxy(c, 0.3) as (proxy, via):
        with Background(via, loaded.config, "hot", settings=PARTIAL) as w:
            assert w.ready.wait(30)
            request(via, BUSY, "create", assign_to=CHILD)
            assert wait_until(lambda: not protocol.is_pending(c.get(db_of(BUSY), BUSY)), 10)
            assert wait_until(lambda: any(
                "feed=longpoll" in path and unquote(path.split("/")[1]) ==
                c.profile.physical(db_of(BUSY)) for _, path in proxy.seen), 5)
        longpolled = {unquote(path.split("/")[1]) for _, path in proxy.seen
                      if "/_changes" in path and "feed=longpoll" in path}
        assert longpolled == {c.profile.physical(db_of(BUSY))}


def test_a_live_watcher_is_ready_only_once_the_last_databases_prepared_are_followed(
        loaded, monkeypatch):
    """Ready (`/readyz`) means every database listed is followed: not while the last ones
    are still being prepared. At a restart the snapshot has their design documents
    checked already, so nothing else holds ready back (and a stop then would leave them
    out of the next snapshot)."""
    c = loaded.couch
    idle_dbs(c)
    with Background(c, loaded.config, "first", settings=PARTIAL) as first:
        assert first.ready.wait(30)
    # preparing is slow (on the test server, a seq check per database)
    record_requests(c, monkeypatch, lambda what: 0.3 if " numbers/" in what and
                    not what.startswith("changes of") else 0)
    w = Watcher(c, loaded.config, dataclasses.replace(PARTIAL, prepare_per_pass=4))
    followed_when_ready = []
    set_ready = w._set_ready

    def recording():
        followed_when_ready.append(set(w._feeds))
        set_ready()

    monkeypatch.setattr(w, "_set_ready", recording)
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    try:
        assert w.ready.wait(30)
    finally:
        w.stop()
        thread.join(30)
    assert set(c.number_dbs()) <= followed_when_ready[0]
