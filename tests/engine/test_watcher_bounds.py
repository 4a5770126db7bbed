"""What the watcher keeps bounded, and what it must not lose (R6-R9, R11 of the review's
engine reproductions, turned round)."""
import threading
import time

from engine_helpers import CHILD, FAST, Background, db_of, request, run_once, wait_until

from kzcarrier.engine import protocol
from kzcarrier.engine.journal import SERVICE_DB
from kzcarrier.engine.watcher import Watcher, WatchSettings
from kzcarrier.errors import StorageError

NUM = "+14155550177"


def seed_purchases(c, nums):
    db = db_of(nums[0])
    c.ensure_db(db)
    for s in range(0, len(nums), 500):
        c.bulk_save(db, [{"_id": n, "pvt_state": "discovery", "pvt_module_name": "knm_acme",
                          "pvt_request": {"id": f"r-{n}", "operation": "move",
                                          "options": {"assign_to": CHILD}}}
                         for n in nums[s:s + 500]])


def test_R6_what_other_workers_finished_is_forgotten(loaded):
    c = loaded.couch
    db = "numbers/+1646"
    c.ensure_db(db)
    nums = [f"+1646555{i:04d}" for i in range(300)]
    with Background(c, loaded.config, "wa") as a, Background(c, loaded.config, "wb") as b:
        time.sleep(1.5)                       # both registered, each sees the other
        c.bulk_save(db, [{"_id": n, "pvt_request": {
            "id": f"r-{n}", "operation": "create",
            "options": {"assign_to": CHILD, "auth_by": "system"}}} for n in nums])
        assert wait_until(lambda: all(d and not protocol.is_pending(d)
                                      for d in c.bulk_get(db, nums).values()))
        assert wait_until(lambda: len(a._first_seen) + len(b._first_seen) == 0, 10)


def test_R7_the_feed_reads_no_further_ahead_than_the_pool(loaded, acme, monkeypatch):
    c = loaded.couch
    monkeypatch.setenv("ACME_LATENCY", "0.2")
    seed_purchases(c, [f"+1646555{i:04d}" for i in range(600)])
    w = Watcher(c, loaded.config, WatchSettings(pool_size=4, sweep_interval=3600,
                                                 db_poll_interval=5, heartbeat_interval=1))
    t = threading.Thread(target=w.run, daemon=True)
    t.start()
    peak = 0
    try:
        for _ in range(20):
            time.sleep(0.15)
            peak = max(peak, w._pool._work_queue.qsize(), len(w._inflight))
    finally:
        w.stop()
        t.join(30)
    assert not t.is_alive()
    assert peak <= max(w.settings.read_ahead * w.settings.pool_size, 2 * w.settings.group_size)


def test_R11_sigterm_finishes_what_runs_loses_nothing_and_exits_fast(loaded, acme,
                                                                     monkeypatch):
    c = loaded.couch
    monkeypatch.setenv("ACME_LATENCY", "0.2")
    nums = [f"+1646555{i:04d}" for i in range(1000)]
    seed_purchases(c, nums)
    w = Watcher(c, loaded.config, WatchSettings(pool_size=4, sweep_interval=3600,
                                                 db_poll_interval=5, heartbeat_interval=1))
    code = []
    t = threading.Thread(target=lambda: code.append(w.run()), daemon=True)
    t.start()
    time.sleep(2)
    w.stop()
    stopped = time.monotonic()
    t.join(10)
    assert not t.is_alive() and code == [0]
    assert time.monotonic() - stopped < 10
    calls_at_stop = len(acme.CALLS)
    time.sleep(0.5)
    assert len(acme.CALLS) == calls_at_stop          # nothing bought after the exit
    monkeypatch.setenv("ACME_LATENCY", "0")
    run_once(c, loaded.config)                        # the next worker finishes the rest
    docs = c.bulk_get(db_of(nums[0]), nums)
    assert all(d["pvt_request_state"]["status"] == "completed" for d in docs.values())
    assert sorted(acme.CALLS) == sorted(("acquire", n) for n in nums)   # each bought once


def test_R8_a_request_without_an_id_leaves_the_index_once_failed(loaded):
    c = loaded.couch
    c.ensure_db(db_of(NUM))
    c.put(db_of(NUM), {"_id": NUM, "pvt_request": {"operation": "create"}})
    w = Watcher(c, loaded.config, FAST)
    assert w.run(once=True) == 0
    doc = c.get(db_of(NUM), NUM)
    assert doc["pvt_request_state"]["status"] == "failed"
    assert c.view(db_of(NUM), "kzcarrier", "requests") == []
    counts = {r["key"]: r["value"] for r in c.view(db_of(NUM), "kzcarrier", "request_status",
                                                     group=True)}
    assert counts == {"failed": 1}


def test_R9_a_database_created_again_is_watched_again(loaded, acme):
    c = loaded.couch
    db = db_of(NUM)
    c.ensure_db(db)
    c.put(db, {"_id": NUM, "pvt_state": "discovery", "pvt_module_name": "knm_acme"})
    with Background(c, loaded.config, "w9"):
        time.sleep(1.5)
        c.delete_db(db)
        try:                                  # bare, as an operator would
            c._call("create", c.client.put_database, c._db(db))
        except StorageError as exc:
            # pouchdb-server: a feed read racing the delete opens the database again
            # (CouchDB answers it 404); created again, empty, either way
            assert exc.status == 412
        c.put(db, {"_id": NUM, "pvt_state": "discovery", "pvt_module_name": "knm_acme"})
        acme.TRANSIENT[NUM] = 1              # first attempt: 503, retried after a backoff
        request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)
        assert wait_until(lambda: not protocol.is_pending(c.get(db, NUM)), 30)
    assert c.get(db, NUM)["pvt_request_state"]["status"] == "completed"
    assert c.get(db, "_design/kzcarrier", missing_ok=True) is not None


def test_dead_workers_records_are_removed(loaded):
    c = loaded.couch
    c.ensure_db(SERVICE_DB)
    c.put(SERVICE_DB, {"_id": "worker:gone", "type": "worker", "worker": "gone",
                       "heartbeat": protocol.now() - 3600})
    c.put(SERVICE_DB, {"_id": "worker:recent", "type": "worker", "worker": "recent",
                       "heartbeat": protocol.now() - 2})
    run_once(c, loaded.config)
    assert c.get(SERVICE_DB, "worker:gone", missing_ok=True) is None
    assert c.get(SERVICE_DB, "worker:recent", missing_ok=True) is not None


def test_an_account_copy_that_failed_is_brought_in_step_by_the_sweep(loaded):
    """The number is written, its owner's account database refuses the copy (a
    validate_doc_update, as a misbehaving KAZOO app could install): the request completes
    as it did, the failure is kept, and the sweep writes the copy once the database takes
    it again (defect 11)."""
    from engine_helpers import acct_db

    c = loaded.couch
    adb = acct_db(CHILD)
    c.put(adb, {"_id": "_design/deny_numbers", "validate_doc_update":
                "function(n) { if (n.pvt_type === 'number') "
                "throw({forbidden: 'no number copies today'}); }"})
    request(c, NUM, "create", assign_to=CHILD, auth_by="system")
    run_once(c, loaded.config)
    doc = c.get(db_of(NUM), NUM)
    assert doc["pvt_state"] == "in_service"
    assert doc["pvt_request_state"]["status"] == "completed"
    assert c.get(adb, NUM, missing_ok=True) is None
    pending = c.get(SERVICE_DB, f"copies:{NUM}")
    assert "no number copies today" in pending["error"]
    ddoc = c.get(adb, "_design/deny_numbers")
    c.put(adb, {**ddoc, "validate_doc_update": "function(n) {}"})   # taken again
    run_once(c, loaded.config)                          # its sweep repairs the copy
    copy = c.get(adb, NUM)
    assert copy["pvt_assigned_to"] == CHILD and copy["pvt_state"] == "in_service"
    assert c.get(SERVICE_DB, f"copies:{NUM}", missing_ok=True) is None


def test_a_carrier_slower_than_the_lease_is_named_at_start(loaded, caplog):
    """Bandwidth2 may take 2 x 30 s + 60 s for one order: above a 100 s lease, the watcher
    says so at start, naming the setting to raise."""
    cfg = loaded.config
    cfg.set("number_manager", "carrier_modules", ["knm_local", "knm_bandwidth2"])
    cfg.set("number_manager", "request_claim_ttl_s", 100)
    with caplog.at_level("WARNING", logger="kzcarrier.watcher"):
        Watcher(loaded.couch, cfg, FAST).run(once=True)
    warned = [r.getMessage() for r in caplog.records if "lease:" in r.getMessage()]
    assert len(warned) == 1 and "knm_bandwidth2: one call may take 120 s" in warned[0]
    assert "request_claim_ttl_s" in warned[0]
    cfg.set("number_manager", "request_claim_ttl_s", 150)
    caplog.clear()
    with caplog.at_level("WARNING", logger="kzcarrier.watcher"):
        Watcher(loaded.couch, cfg, FAST).run(once=True)
    assert not [r for r in caplog.records if "lease:" in r.getMessage()]
