"""A restart resumes from where every feed stood (engine/snapshot.py): no request per
database for what the snapshot knows, and, with `_db_updates`, only the databases changed
since are read."""
import dataclasses
import time
from urllib.parse import unquote

import pytest
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
from kzcarrier.engine.feeds import CHECKPOINT
from kzcarrier.engine.watcher import Watcher
from kzcarrier.numbers import SERVICE_DB

DBS = [f"numbers/+13{i:02d}" for i in range(12)]
SETTLED = dataclasses.replace(FAST, full_sweep_interval=3600.0, hot_for=0.5)


def numbers(couch):
    for db in DBS:
        couch.ensure_db(db)
        couch.put(db, {"_id": db[-5:] + "5550000", "pvt_type": "number",
                       "pvt_state": "available", "pvt_module_name": "knm_local"})


def per_database(seen, start: str) -> set[str]:
    return {what.rsplit(" ", 1)[-1] for what in seen
            if what.startswith(start) and " numbers/" in what}


def completed(couch, db, num) -> bool:
    doc = couch.get(db, num)
    return not protocol.is_pending(doc) and \
        doc["pvt_request_state"]["status"] == "completed"


def test_a_restart_reads_no_checkpoint_and_checks_no_design_document_the_snapshot_knows(
        loaded, monkeypatch):
    c = loaded.couch
    numbers(c)
    with Background(c, loaded.config, "first", settings=SETTLED) as w:
        assert w.ready.wait(30)
    num = DBS[5][-5:] + "5550000"
    request(c, num, "move", assign_to=CHILD)          # written while no watcher runs
    sent = record_requests(c, monkeypatch)
    with Background(c, loaded.config, "again", settings=SETTLED) as w:
        assert w.ready.wait(30)
        assert wait_until(lambda: completed(c, DBS[5], num), 30)
        assert set(DBS) <= set(w._feeds)
        integer_seqs = isinstance(w._feeds[DBS[0]].read_seq, int)
    seen = [what for _, what in sent]
    assert not per_database(seen, f"get _local/{CHECKPOINT} from")
    assert not per_database(seen, "read ")            # design documents: one bulk read each
    # the feeds the loop read at once (the others only when `_db_updates` or the cold poll
    # names them)
    read = per_database([what for thread, what in sent if thread.startswith("kzc-io")],
                        "changes of")
    assert DBS[5] in read
    if integer_seqs:
        # the test server's integer seqs are checked against the database, one `GET /db`
        # each (couch/compat.py), which also says whether anything was written past the
        # position: only the database written to while no watcher ran is read at once.
        # On CouchDB a snapshot's seqs cost no request, and `_db_updates` names it.
        assert read == {DBS[5]}, read


def test_a_database_the_server_says_changed_is_read_before_every_database_is_followed(
        loaded, monkeypatch):
    """Where a restart reads each database's own position (the test server's integer seqs,
    couch/compat.py), one that moved while no watcher ran is read as soon as it is
    prepared: its request does not wait until `_db_updates` resumes, once every database
    is followed. (On CouchDB nothing is read per database; `_db_updates` names it.)"""
    c = loaded.couch
    numbers(c)
    with Background(c, loaded.config, "first", settings=SETTLED) as w:
        assert w.ready.wait(30)
        if not isinstance(w._feeds[DBS[0]].read_seq, int):
            pytest.skip("the server's seqs are opaque: no position is read per database")
    num = DBS[1][-5:] + "5550000"
    request(c, num, "move", assign_to=CHILD)          # written while no watcher runs
    sent = record_requests(c, monkeypatch)
    slow = dataclasses.replace(SETTLED, prepare_per_pass=2, prepared_ahead=1)
    with Background(c, loaded.config, "again", settings=slow) as w:
        assert w.ready.wait(30)
        assert wait_until(lambda: completed(c, DBS[1], num), 30)
    seen = [what for _, what in sent]
    assert seen.index(f"changes of {DBS[1]}") < seen.index(f"database {DBS[-1]}")


def test_with_db_updates_a_restart_reads_only_the_databases_changed_since(loaded):
    c = loaded.couch
    numbers(c)
    with db_updates_proxy(c, 0.2) as (proxy, via):
        with Background(via, loaded.config, "first", settings=SETTLED) as w:
            assert w.ready.wait(30) and w._db_updates_ok
            time.sleep(1.0)                 # every database read, nothing active any more
        num = DBS[7][-5:] + "5550000"
        request(via, num, "move", assign_to=CHILD)    # while no watcher runs
        proxy.seen.clear()
        with Background(via, loaded.config, "again", settings=SETTLED) as w:
            assert w.ready.wait(30)
            assert wait_until(lambda: completed(c, DBS[7], num), 10)
            time.sleep(0.5)
            read = {unquote(path.split("/")[1]) for _, path in proxy.seen
                    if "/_changes" in path}
        assert read == {c.profile.physical(DBS[7])}, read


def test_a_database_read_with_requests_unfinished_is_named_in_the_snapshot(loaded):
    """What was read but not finished (or not read) when the snapshot was written is read
    again at the restart, whatever `_db_updates` says."""
    c = loaded.couch
    numbers(c)
    c.ensure_db(SERVICE_DB)
    request(c, DBS[2][-5:] + "5550000", "move", assign_to=CHILD)
    w = Watcher(c, loaded.config, SETTLED)
    w._refresh_dbs()
    while w._poll_feeds(everything=True):            # read to their ends; its request's
        pass                                         # page not past yet
    w._save_snapshot()
    w._wait_inflight()
    snap = snapshot.load(c)
    assert snap is not None and set(DBS) <= set(snap.seqs)
    assert DBS[2] in snap.named                       # and the others read since
    assert snap.seqs[DBS[2]] == w._feeds[DBS[2]].saved_seq    # before its request
    w._advance_checkpoints(final=True)               # finished: past it, named no more
    w._save_snapshot()
    snap = snapshot.load(c)
    assert not snap.named
    assert snap.seqs[DBS[2]] == w._feeds[DBS[2]].done_seq == \
        c.get_local(DBS[2], CHECKPOINT)["seq"]


def test_design_documents_of_another_version_are_checked_again_after_a_restart(loaded):
    c = loaded.couch
    numbers(c)
    with Background(c, loaded.config, "first", settings=SETTLED) as w:
        assert w.ready.wait(30)
    ours = next(d for d in c.design_docs if d.doc["_id"] == "_design/kzcarrier")
    views = dict(ours.doc["views"], upgraded={"map": "function(doc) { emit(doc._id); }"})
    upgraded = dataclasses.replace(ours, doc=dict(ours.doc, views=views))
    c.design_docs = [upgraded if d is ours else d for d in c.design_docs]
    with Background(c, loaded.config, "again", settings=SETTLED) as w:
        assert w.ready.wait(30)
    for db in DBS:
        assert "upgraded" in c.get(db, "_design/kzcarrier")["views"]


def test_an_idle_watcher_writes_no_snapshot(loaded, monkeypatch):
    c = loaded.couch
    numbers(c)
    c.ensure_db(SERVICE_DB)
    w = Watcher(c, loaded.config, SETTLED)
    w._refresh_dbs()
    while w._poll_feeds(everything=True):
        pass
    w._advance_checkpoints(final=True)
    w._save_snapshot()
    seen = count_requests(c, monkeypatch)
    w._poll_feeds(everything=True)
    w._advance_checkpoints()
    w._save_snapshot()
    assert not [what for what in seen if what.startswith("put _local")]
    request(c, DBS[4][-5:] + "5550000", "move", assign_to=CHILD)
    while w._poll_feeds(everything=True):
        pass
    w._wait_inflight()
    w._advance_checkpoints(final=True)
    w._save_snapshot()
    # the database's checkpoint, its snapshot chunk and the head
    assert len([what for what in seen if what.startswith("put _local")]) == 3
    assert snapshot.load(c).seqs[DBS[4]] == w._feeds[DBS[4]].done_seq


def test_a_snapshot_is_a_head_and_a_chunk_per_few_hundred_databases(loaded, monkeypatch):
    """A small server's snapshot is two writes (`watch --once` writes one as it ends, and
    a restart reads it). Many databases are spread over up to 16 chunks, each written only
    when it changed. A chunk made for another number of chunks than its head names (a
    stop between the two writes) is not used: its databases start from their own
    checkpoints."""
    c = loaded.couch
    c.ensure_db(SERVICE_DB)
    seen = count_requests(c, monkeypatch)
    few = {db: f"{i}-x" for i, db in enumerate(DBS)}
    snapshot.SnapshotWriter(c).save(snapshot.Snapshot(seqs=few))
    assert len([w for w in seen if w.startswith("put _local")]) == 2
    assert snapshot.load(c).seqs == few

    many = {f"numbers/+1{i:04d}": f"{i}-y" for i in range(1200)}
    writer = snapshot.SnapshotWriter(c)
    seen.clear()
    writer.save(snapshot.Snapshot(seqs=many))
    assert len([w for w in seen if w.startswith("put _local")]) == 3 + 1
    assert snapshot.load(c).seqs == many
    seen.clear()
    writer.save(snapshot.Snapshot(seqs=dict(many, **{"numbers/+10000": "9-z"})))
    assert len([w for w in seen if w.startswith("put _local")]) == 1 + 1

    snapshot.SnapshotWriter(c).save(snapshot.Snapshot(seqs=few))   # one chunk from now on
    head = c.get_local(SERVICE_DB, snapshot.HEAD)
    c.put_local(SERVICE_DB, snapshot.HEAD, dict(head, chunks=3))    # as if it came first
    loaded_again = snapshot.load(c)
    assert not set(few) & set(loaded_again.seqs)
    assert set(loaded_again.seqs) < set(many)   # chunks 1 and 2 written for three: older


RETRIED = "+14155550177"


def retry_waiting_at_stop(c, loaded, acme) -> None:
    """A request whose carrier call failed (transient) and waits for its retry when the
    watcher stops: its feed's position is past it (it was handled), its retry is not."""
    numbers(c)
    c.ensure_db(db_of(RETRIED))
    c.put(db_of(RETRIED), {"_id": RETRIED, "pvt_state": "discovery",
                           "pvt_module_name": "knm_acme"})
    acme.TRANSIENT[RETRIED] = 2
    with Background(c, loaded.config, "first", settings=SETTLED) as w:
        assert w.ready.wait(30)
        request(c, RETRIED, "move", assign_to=CHILD, auth_by=CHILD)
        assert wait_until(lambda: acme.TRANSIENT[RETRIED] < 2, 30)    # an attempt failed
    assert protocol.is_pending(c.get(db_of(RETRIED), RETRIED))
    assert c.get_local(db_of(RETRIED), CHECKPOINT)["seq"]


def as_written_before(couch) -> None:
    """The snapshot as the version before wrote it: one fingerprint per database and job
    (now a list: the last few, one per set of a cluster's copies that answered)."""
    head = couch.get_local(SERVICE_DB, snapshot.HEAD)
    for k in range(head["chunks"]):
        chunk = couch.get_local(SERVICE_DB, f"{snapshot.HEAD}-{k}")
        for entry in chunk["dbs"].values():
            entry[2] = {job: fps[-1] for job, fps in entry[2].items()}
        couch.put_local(SERVICE_DB, f"{snapshot.HEAD}-{k}", chunk)


@pytest.mark.parametrize("written", ["now", "before"])
def test_a_restarts_full_sweep_reads_only_the_databases_changed_since_the_snapshot(
        loaded, monkeypatch, written):
    """The full sweep's fingerprints (engine/backstop.py) are kept in the snapshot: after
    a restart its first full sweep reads the databases written since, not every
    database's index again (10,000 reads at 10,000 databases, at each start). A snapshot
    the version before wrote (one fingerprint per database) is read as well."""
    c = loaded.couch
    numbers(c)
    with Background(c, loaded.config, "first", settings=SETTLED) as w:
        assert w.ready.wait(30)
        # every feed read once (a feed read from its start needs no index read)
        assert wait_until(lambda: all(f.read_seq not in (None, 0, "0")
                                      for f in list(w._feeds.values())))
        w._next_full = 0.0
        w._sweep()                                   # the first look: every database
    if written == "before":
        as_written_before(c)
    num = DBS[5][-5:] + "5550000"
    request(c, num, "move", assign_to=CHILD)          # written while no watcher runs
    with Background(c, loaded.config, "again", settings=SETTLED) as w:
        assert w.ready.wait(30)
        assert wait_until(lambda: completed(c, DBS[5], num))
        seen = count_requests(c, monkeypatch)
        w._next_full = 0.0
        w._sweep()
    assert views_read(seen) == {DBS[5]}


def test_a_retry_waiting_at_stop_is_done_after_a_restart_whose_sweep_reads_only_it(
        loaded, acme, monkeypatch):
    """The snapshot lists the databases with requests unfinished: the restart's first
    sweep reads those (not every database's index, and not at the full sweep, ten minutes
    later), and the retry is done."""
    c = loaded.couch
    retry_waiting_at_stop(c, loaded, acme)
    assert snapshot.load(c).work == {db_of(RETRIED)}
    seen = count_requests(c, monkeypatch)
    with Background(c, loaded.config, "again", settings=SETTLED):
        assert wait_until(lambda: completed(c, db_of(RETRIED), RETRIED), 20)
    assert views_read(seen) == {db_of(RETRIED)}


def test_without_a_snapshot_the_first_sweep_reads_every_database_with_a_position(
        loaded, acme, monkeypatch):
    """A snapshot that cannot be used (another version's, or none: a first start over
    checkpoints) tells nothing of what positions passed: every one is swept once."""
    c = loaded.couch
    retry_waiting_at_stop(c, loaded, acme)
    c.put_local(SERVICE_DB, snapshot.HEAD, {"version": 0})
    seen = count_requests(c, monkeypatch)
    with Background(c, loaded.config, "again", settings=SETTLED):
        assert wait_until(lambda: completed(c, db_of(RETRIED), RETRIED), 20)
    assert views_read(seen) >= set(DBS) | {db_of(RETRIED)}


def test_watch_once_after_a_clean_stop_reads_no_index(loaded, monkeypatch):
    """`--once` resumes from the snapshot like a live watcher: where every request its
    feeds' positions passed was finished, it reads the feeds, not the indexes (whose build
    over every document changed since is most of a `--once` run's time)."""
    c = loaded.couch
    numbers(c)
    num = DBS[3][-5:] + "5550000"
    request(c, num, "move", assign_to=CHILD)
    Watcher(c, loaded.config, SETTLED).run(once=True)
    assert completed(c, DBS[3], num) and not snapshot.load(c).work
    request(c, num, "move", assign_to=RESELLER)
    seen = count_requests(c, monkeypatch)
    assert Watcher(c, loaded.config, SETTLED).run(once=True) == 0
    assert completed(c, DBS[3], num)
    assert not views_read(seen)


def test_watch_once_does_not_end_while_a_retry_its_first_sweep_found_is_waiting(loaded):
    """A retry left waiting by an earlier run, behind the feed's position: `--once` ends
    when it is done, not when the requests its feeds showed are."""
    c = loaded.couch
    db, num = DBS[0], DBS[0][-5:] + "5550000"
    numbers(c)
    now = protocol.now()
    doc = c.get(db, num)
    doc["pvt_request"] = {"id": "r1", "operation": "move", "options": {"assign_to": CHILD}}
    doc["pvt_request_state"] = {"id": "r1", "status": "running", "operation": "move",
                                "worker": None, "attempts": 1, "started": int(now),
                                "claim_expires": now + 2, "next_attempt": now + 2}
    c.put(db, doc)
    c.put_local(db, CHECKPOINT, {"seq": c.changes(db, 0).last_seq})     # behind it
    assert Watcher(c, loaded.config, SETTLED).run(once=True) == 0
    assert completed(c, db, num)
