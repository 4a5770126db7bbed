"""The document-driven engine end to end, in process, against the test server."""
import time

import pytest
from engine_helpers import CHILD, MASTER, RESELLER, Background, acct_db, db_of, request, run_once

from kzcarrier.engine.feeds import CHECKPOINT

AVAILABLE, IN_SERVICE, WITH_HISTORY = "+15551239876", "+15551233322", "+15551255693"


def get(couch, num):
    return couch.get(db_of(num), num, missing_ok=True)


def discovery(couch, num, module="knm_acme"):
    couch.ensure_db(db_of(num))
    couch.put(db_of(num), {"_id": num, "pvt_state": "discovery", "pvt_module_name": module,
                           "pvt_carrier_data": {"found_by": "search"}})


def test_every_operation_end_to_end(loaded, acme):
    c = loaded.couch
    discovery(c, "+14155550101")
    rids = {
        "create": request(c, "+15559871234", "create", auth_by=MASTER, assign_to=RESELLER),
        "move": request(c, "+14155550101", "move", assign_to=CHILD, auth_by=CHILD),
        "reserve": request(c, AVAILABLE, "reserve", assign_to=RESELLER, auth_by=MASTER),
        "release": request(c, WITH_HISTORY, "release", auth_by=MASTER),
        "delete": request(c, IN_SERVICE, "delete", auth_by=MASTER),
        "update": request(c, "+14252151010", "update", public_fields={"label": "desk"}),
        "assign_to_app": request(c, "+14252151007", "assign_to_app", used_by="trunkstore"),
        "transition": request(c, "+19162154006", "transition", state="aging"),
    }
    run_once(c, loaded.config)

    created = get(c, "+15559871234")
    assert (created["pvt_state"], created["pvt_assigned_to"]) == ("in_service", RESELLER)
    assert c.get(acct_db(RESELLER), "+15559871234")["pvt_state"] == "in_service"

    bought = get(c, "+14155550101")
    assert (bought["pvt_state"], bought["pvt_assigned_to"]) == ("in_service", CHILD)
    assert bought["pvt_carrier_data"]["acme_order"] == "order-+14155550101"
    assert bought["pvt_carrier_data"]["reference"] == rids["move"]   # the idempotency key
    assert acme.CALLS == [("acquire", "+14155550101")]
    st = bought["pvt_request_state"]
    assert (st["id"], st["status"], st["operation"], st["from_state"], st["to_state"],
            st["carrier"], st["attempts"], st["error"]) == (
        rids["move"], "completed", "move", "discovery", "in_service", "knm_acme", 1, None)
    assert isinstance(st["started"], int) and st["finished"] >= st["started"]
    [entry] = bought["pvt_transitions"]
    assert entry == {"request_id": rids["move"], "operation": "move", "from": "discovery",
                     "to": "in_service", "at": st["finished"], "by": CHILD,
                     "carrier": "knm_acme"}

    assert get(c, AVAILABLE)["pvt_state"] == "reserved"
    released = get(c, WITH_HISTORY)
    assert (released["pvt_state"], released["pvt_assigned_to"]) == ("reserved", MASTER)
    assert get(c, "+14252151010")["label"] == "desk"
    assert get(c, "+14252151007")["pvt_used_by"] == "trunkstore"
    assert get(c, "+19162154006")["pvt_state"] == "aging"
    for num, rid in ((AVAILABLE, rids["reserve"]), ("+14252151010", rids["update"])):
        assert get(c, num)["pvt_request_state"]["status"] == "completed"

    # the hard delete is a tombstone that keeps the outcome readable
    assert get(c, IN_SERVICE) is None
    assert c.get(acct_db(RESELLER), IN_SERVICE, missing_ok=True) is None
    last = [r for r, _ in c.iter_changes(db_of(IN_SERVICE)) if r["id"] == IN_SERVICE][-1]
    assert last["deleted"] and last["doc"]["pvt_request_state"]["status"] == "completed"
    assert last["doc"]["pvt_request_state"]["to_state"] == "deleted"


def test_dry_run_request_changes_nothing_but_its_state(loaded, acme):
    c = loaded.couch
    discovery(c, "+14155550102")
    before = get(c, "+14155550102")
    rid = request(c, "+14155550102", "move", assign_to=CHILD, dry_run=True)
    run_once(c, loaded.config)
    after = get(c, "+14155550102")
    st = after.pop("pvt_request_state")
    assert (st["status"], st["id"], st["to_state"], st["carrier_action"], st["charges"]) == (
        "dry_run", rid, "in_service", "acquire", [])
    after.pop("_rev"), before.pop("_rev"), after.pop("pvt_request")
    assert after == before and acme.CALLS == []


def test_rewriting_the_same_request_or_rewinding_the_feed_repeats_nothing(loaded, acme):
    c = loaded.couch
    discovery(c, "+14155550103")
    rid = request(c, "+14155550103", "move", assign_to=CHILD)
    run_once(c, loaded.config)
    request(c, "+14155550103", "move", rid=rid, assign_to=CHILD)   # same id again
    c.put_local(db_of("+14155550103"), CHECKPOINT, {"seq": 0})       # feed rewinds to 0
    with Background(c, loaded.config):
        time.sleep(1.5)
    run_once(c, loaded.config)
    assert acme.CALLS == [("acquire", "+14155550103")]
    doc = get(c, "+14155550103")
    assert len(doc["pvt_transitions"]) == 1 and doc["pvt_request_state"]["attempts"] == 1


def test_transient_carrier_faults_are_retried_then_fail_with_the_carriers_reason(loaded, acme):
    c = loaded.couch
    loaded.config.set("number_manager", "request_retry_base_ms", 50)
    loaded.config.set("number_manager", "request_max_attempts", 3)
    discovery(c, "+14155550104")
    discovery(c, "+14155550105")
    acme.TRANSIENT["+14155550104"] = 2          # two 503s, then success
    acme.TRANSIENT["+14155550105"] = 10         # never recovers
    request(c, "+14155550104", "move", assign_to=CHILD)
    request(c, "+14155550105", "move", assign_to=CHILD)
    run_once(c, loaded.config)
    ok = get(c, "+14155550104")
    assert ok["pvt_state"] == "in_service"
    assert ok["pvt_request_state"]["attempts"] == 3
    bad = get(c, "+14155550105")
    st = bad["pvt_request_state"]
    assert bad["pvt_state"] == "discovery" and st["status"] == "failed"
    assert st["error"]["error"] == "unspecified_fault"
    assert st["error"]["carrier_reason"] == "503 Service Unavailable"
    assert acme.CALLS.count(("acquire", "+14155550105")) == 3


def test_permanent_failures_fail_at_once_and_keep_the_document(loaded, acme):
    c = loaded.couch
    discovery(c, "+14155550106")
    acme.FAIL.add("+14155550106")
    request(c, "+14155550106", "move", assign_to=CHILD)
    request(c, IN_SERVICE, "move", assign_to=CHILD, auth_by="f" * 32)
    run_once(c, loaded.config)
    doc = get(c, "+14155550106")
    assert doc["pvt_request_state"]["status"] == "failed"
    assert doc["pvt_request_state"]["attempts"] == 1
    assert doc["pvt_request_state"]["error"]["carrier_reason"] == "acme says no: out of stock"
    forbidden = get(c, IN_SERVICE)["pvt_request_state"]["error"]
    assert forbidden == {"code": 403, "error": "forbidden",
                         "message": "requestor is unauthorized to perform operation"}


def test_live_watcher_picks_up_new_requests_and_new_databases(loaded, acme):
    c = loaded.couch
    with Background(c, loaded.config) as watcher:
        time.sleep(0.3)
        request(c, "+12125550100", "create", auth_by=MASTER, assign_to=CHILD)  # new db
        request(c, AVAILABLE, "move", assign_to=CHILD)
        deadline = time.time() + 20
        while time.time() < deadline:
            docs = [get(c, "+12125550100"), get(c, AVAILABLE)]
            if all(d and d.get("pvt_request_state", {}).get("status") == "completed"
                   for d in docs):
                break
            time.sleep(0.05)
        else:
            pytest.fail("requests were not processed by the live watcher")
    assert get(c, "+12125550100")["pvt_state"] == "in_service"
    assert c.get_local("numbers/+1212", CHECKPOINT)["seq"]      # checkpoint written
    assert c.get("kzcarrier", f"worker:{watcher.worker}", missing_ok=True) is None


def test_status_retry_and_cancel(loaded, acme):
    from click.testing import CliRunner

    from kzcarrier.cli.main import cli

    c = loaded.couch
    url = loaded.settings.couch_url
    discovery(c, "+14155550107")
    acme.FAIL.add("+14155550107")
    request(c, "+14155550107", "move", assign_to=CHILD)
    run_once(c, loaded.config)
    pending = request(c, "+14155550108", "create", assign_to=CHILD)

    runner = CliRunner()
    out = runner.invoke(cli, ["--couch-url", url, "status", "--json"])
    data = __import__("json").loads(out.output)
    row = data["databases"]["numbers/+1415"]
    assert (row["failed"], row["pending"], row["completed"]) == (1, 1, 0)
    assert row["oldest_pending_age_s"] is None or row["oldest_pending_age_s"] >= 0
    assert data["totals"]["failed"] >= 1
    text = runner.invoke(cli, ["--couch-url", url, "status"]).output
    assert "numbers/+1415" in text

    out = runner.invoke(cli, ["--couch-url", url, "request", "cancel", "+14155550108"])
    assert out.exit_code == 0, out.output
    st = get(c, "+14155550108")["pvt_request_state"]
    assert (st["id"], st["status"], st["error"]["error"]) == (pending, "failed", "cancelled")
    out = runner.invoke(cli, ["--couch-url", url, "request", "cancel", "+14155550108"])
    assert out.exit_code == 1 and "no pending request" in out.output

    acme.FAIL.clear()                          # the carrier has stock again: retry it
    out = runner.invoke(cli, ["--couch-url", url, "request", "retry", "+14155550107"])
    assert out.exit_code == 0, out.output
    run_once(c, loaded.config)
    doc = get(c, "+14155550107")
    assert doc["pvt_state"] == "in_service" and doc["pvt_request_state"]["status"] == "completed"
    out = runner.invoke(cli, ["--couch-url", url, "request", "retry", "+14155550107"])
    assert out.exit_code == 1 and "already completed" in out.output


def test_a_bug_on_one_document_fails_it_and_the_engine_goes_on(loaded, acme):
    c = loaded.couch
    discovery(c, "+14155550109")
    discovery(c, "+14155550110")
    acme.BOOM.add("+14155550109")
    request(c, "+14155550109", "move", assign_to=CHILD)
    request(c, "+14155550110", "move", assign_to=CHILD)
    run_once(c, loaded.config)
    st = get(c, "+14155550109")["pvt_request_state"]
    assert st["status"] == "failed" and st["error"]["error"] == "internal_error"
    assert "acme client bug" in st["error"]["cause"]
    assert st["intent"]["action"] == "acquire"     # a retry asks the carrier first
    assert get(c, "+14155550110")["pvt_state"] == "in_service"


def test_two_workers_racing_on_a_request_without_carrier_call_complete_it_once(loaded):
    """No claim is written when no carrier is called: the outcome's own write at the read
    _rev is what makes it once."""
    import threading

    from kzcarrier.engine.processor import Processor

    c = loaded.couch
    for i in range(20):
        request(c, f"+1555123{i:04d}", "create", auth_by=MASTER, assign_to=CHILD)
    docs = {f"+1555123{i:04d}": c.get("numbers/+1555", f"+1555123{i:04d}") for i in range(20)}
    results = []

    def work(name):
        p = Processor(c, loaded.config, name)
        for num, doc in docs.items():
            results.append(p.process("numbers/+1555", num, dict(doc)))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("completed") == 20            # each request completed once
    for num in docs:
        doc = c.get("numbers/+1555", num)
        assert doc["pvt_state"] == "in_service" and len(doc["pvt_transitions"]) == 1


def test_three_live_watchers_complete_each_local_request_once(loaded):
    """Requests that call no carrier take the group path, claimless: with three watchers on
    the database (ownership split, then stealing), each still ends with one transition."""
    c = loaded.couch
    nums = [f"+1555124{i:04d}" for i in range(150)]
    with Background(c, loaded.config, "w1") as w1, Background(c, loaded.config, "w2") as w2, \
            Background(c, loaded.config, "w3") as w3:
        for w in (w1, w2, w3):
            assert w.ready.wait(30)
        c.bulk_save("numbers/+1555", [{"_id": n, "pvt_request": {
            "id": f"r{n}", "operation": "create",
            "options": {"auth_by": MASTER, "assign_to": CHILD}}} for n in nums])
        deadline = time.time() + 60
        while time.time() < deadline:
            docs = c.bulk_get("numbers/+1555", nums).values()
            if all(d.get("pvt_request_state", {}).get("status") == "completed" for d in docs):
                break
            time.sleep(0.1)
    # stopped: every group has finished (a number is written before its account copy)
    completed = [w.counts.get("completed", 0) for w in (w1, w2, w3)]
    docs = c.bulk_get("numbers/+1555", nums)
    for num, doc in docs.items():
        assert (doc["pvt_state"], doc["pvt_request_state"]["status"]) == (
            "in_service", "completed"), num
        assert [t["request_id"] for t in doc["pvt_transitions"]] == [f"r{num}"]
    assert sum(completed) == 150 and sum(1 for n in completed if n) >= 2   # shared work


def test_a_sweep_does_not_offer_again_what_finished_after_its_view_was_read(loaded):
    """The live sweep runs beside the feeds: its view, read before a request finished,
    still shows it pending. The watcher remembers what it saw finish and when."""
    from engine_helpers import FAST

    from kzcarrier.engine.watcher import Watcher

    c = loaded.couch
    num = "+15551250001"
    request(c, num, "create", auth_by=MASTER, assign_to=CHILD)
    w = Watcher(c, loaded.config, FAST)
    try:
        w._refresh_dbs()
        w._next_full = float("inf")     # sweeps of the databases known to hold requests
        w._work[db_of(num)] = time.monotonic()
        w._finished[(db_of(num), num)] = time.monotonic() + 60   # after any read now
        assert w._sweep() == 0 and not w._inflight               # not offered
        w._finished.clear()
        assert w._sweep() == 1                                     # offered
        w._wait_inflight()
        assert get(c, num)["pvt_request_state"]["status"] == "completed"
        assert (db_of(num), num) in w._finished
    finally:
        w._pool.shutdown(wait=True)


def test_a_group_that_cannot_reach_couchdb_is_done_one_by_one_with_a_warning(
        loaded, caplog, monkeypatch):
    """CouchDB out of reach a moment while a group is written: its requests are done one
    by one, and the log says so in one line (no traceback for a transient fault)."""

    from engine_helpers import FAST

    from kzcarrier.engine.watcher import Watcher
    from kzcarrier.errors import CouchUnavailable

    c = loaded.couch
    nums = [f"+1415555{i:04d}" for i in range(3)]
    for num in nums:
        request(c, num, "create", assign_to=CHILD)
    w = Watcher(c, loaded.config, FAST)
    original, calls = w.batch.process, []

    def flaky(db, docs):
        calls.append(len(docs))
        if len(calls) == 1:
            raise CouchUnavailable("write: cannot reach CouchDB", 0)
        return original(db, docs)

    monkeypatch.setattr(w.batch, "process", flaky)
    assert w.run(once=True) == 0
    assert calls[0] == 3
    for num in nums:
        assert get(c, num)["pvt_request_state"]["status"] == "completed"
    said = [r for r in caplog.records if "one by one" in r.getMessage()]
    assert said and all(r.levelname == "WARNING" and not r.exc_info for r in said)
