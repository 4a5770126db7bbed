"""What a clustered CouchDB answers that the embedded server does not (202 for a losing
write that became a conflict), injected by the fault proxy; the win rule and the merge."""
import threading
import time

import pytest
from engine_helpers import CHILD, request
from faultproxy import FaultProxy

from kzcarrier.couch.client import Couch
from kzcarrier.engine.conflicts import merge_number
from kzcarrier.engine.journal import SERVICE_DB, intent_id, merge_intent
from kzcarrier.engine.processor import Processor
from kzcarrier.errors import DocConflict
from kzcarrier.model.config import Config

DB = "numbers/+1415"
NUM = "+14155550188"


@pytest.fixture
def proxy(app):
    fp = FaultProxy(app.settings.couch_url).start()
    yield fp
    fp.stop()


def test_a_losing_write_answered_202_is_not_a_win_and_its_sibling_is_merged(app, proxy):
    direct = app.couch
    direct.ensure_db(DB)
    rev = direct.put(DB, {"_id": NUM, "pvt_state": "discovery", "a": 1})
    via = Couch(proxy.url)
    proxy.conflict_202 = 1.0
    direct.put(DB, {"_id": NUM, "_rev": rev, "pvt_state": "discovery", "a": 1, "won": "x"})
    with pytest.raises(DocConflict):
        via.put(DB, {"_id": NUM, "_rev": rev, "pvt_state": "discovery", "a": 1, "late": "y"})
    assert proxy.stats["conflict_202"] == 1
    assert direct.get(DB, NUM, conflicts=True)["_conflicts"]      # a sibling really exists
    merged = direct.resolve(DB, NUM, merge_number)
    assert merged["won"] == "x" and merged["late"] == "y"         # every field kept
    assert "_conflicts" not in direct.get(DB, NUM, conflicts=True)


def test_a_clean_write_answered_202_is_confirmed_and_counts(app, proxy):
    app.couch.ensure_db(DB)
    via = Couch(proxy.url)
    proxy.accept_202 = 1.0
    rev = via.put(DB, {"_id": NUM, "pvt_state": "discovery"})
    assert proxy.stats["accepted_202"] >= 1
    assert app.couch.get(DB, NUM)["_rev"] == rev


def test_merging_keeps_the_request_outcome_and_every_transition():
    claim = {"_id": NUM, "_rev": "3-a", "pvt_state": "discovery", "label": "lobby",
             "pvt_request": {"id": "r1", "operation": "move"},
             "pvt_request_state": {"id": "r1", "status": "running", "worker": "w1"},
             "pvt_transitions": [{"request_id": "r0", "at": 1, "to": "discovery"}]}
    done = {"_id": NUM, "_rev": "3-b", "pvt_state": "in_service",
            "pvt_carrier_data": {"order_id": "o-1"},
            "pvt_request": {"id": "r1", "operation": "move"},
            "pvt_request_state": {"id": "r1", "status": "completed"},
            "pvt_transitions": [{"request_id": "r1", "at": 2, "to": "in_service"}]}
    merged = merge_number(claim, [done])       # the winner is the claim: the outcome wins
    assert merged["pvt_state"] == "in_service" and merged["label"] == "lobby"
    assert merged["pvt_carrier_data"] == {"order_id": "o-1"}
    assert [t["request_id"] for t in merged["pvt_transitions"]] == ["r0", "r1"]
    calling = {"_id": "i", "status": "calling", "holder": "w1"}
    called = {"_id": "i", "status": "called", "holder": "w2", "result": {"order_id": "o"}}
    assert merge_intent(calling, [called])["result"] == {"order_id": "o"}
    assert merge_intent(calling, [called])["status"] == "called"


def test_two_workers_racing_through_a_cluster_buy_once(app, proxy, acme, monkeypatch):
    """Both workers claim the same request at the same revisions; the cluster accepts the
    loser's writes as siblings with a 202. One carrier call, one outcome, no sibling left."""
    direct = app.couch
    direct.ensure_db(DB)
    direct.put(DB, {"_id": NUM, "pvt_state": "discovery", "pvt_module_name": "knm_acme"})
    rid = request(direct, NUM, "move", assign_to=CHILD)
    app.config.set("number_manager", "request_claim_ttl_s", 2)
    monkeypatch.setenv("ACME_LATENCY", "0.3")
    proxy.conflict_202 = 1.0
    results = []
    barrier = threading.Barrier(2)
    read = direct.get(DB, NUM)     # both start from this revision, as two feeds would

    def work(name):
        couch = Couch(proxy.url)
        barrier.wait()
        results.append(Processor(couch, Config(couch), name).process(DB, NUM, dict(read)))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # whoever was left busy looks again, as the sweep would; a lease whose holder lost its
    # write stays held until its TTL has passed (safety before liveness), so wait it out
    # (one processor, as a watcher keeps one: lease time is measured by its own clock)
    couch = Couch(proxy.url)
    sweeper = Processor(couch, Config(couch), "w-sweep")
    for _ in range(12):
        results.append(sweeper.process(DB, NUM))
        if results[-1] in ("completed", "idle"):
            break
        time.sleep(0.5)
    doc = direct.get(DB, NUM, conflicts=True)
    assert acme.CALLS.count(("acquire", NUM)) == 1, (results, acme.CALLS)
    assert doc["pvt_state"] == "in_service" and doc["pvt_request_state"]["status"] == "completed"
    assert "_conflicts" not in doc
    # the intent's last write may itself have met a sibling: the next reader merges it
    # (every journal read resolves), and the outcome is kept
    intent = direct.resolve(SERVICE_DB, intent_id(NUM, rid), merge_intent)
    assert intent["status"] == "applied", (results, intent)
    assert "_conflicts" not in direct.get(SERVICE_DB, intent_id(NUM, rid), conflicts=True)
    assert proxy.stats["conflict_202"] >= 1


def test_a_sibling_written_at_an_older_revision_does_not_bring_its_state_back():
    """A losing claim accepted at revision 4 beside a branch that went on to 6 (the
    number bought, then saved by KAZOO): the deeper branch is the base."""
    stale_claim = {"_id": NUM, "_rev": "4-a", "pvt_state": "discovery",
                   "pvt_request": {"id": "r1", "operation": "move"},
                   "pvt_request_state": {"id": "r1", "status": "running", "worker": "w1"}}
    saved = {"_id": NUM, "_rev": "6-b", "pvt_state": "in_service",
             "pvt_carrier_data": {"order_id": "o-1"}}
    merged = merge_number(saved, [stale_claim])
    assert merged["pvt_state"] == "in_service" and merged["pvt_carrier_data"]
    assert merged["pvt_request"]["id"] == "r1"          # its fields are kept, not its state


def test_an_outcome_is_not_merged_away_by_a_newer_write_that_did_not_know_it():
    """The engine's completed sale lost its write to a KAZOO save and was kept as a
    sibling; the client then re-submitted on the KAZOO branch (deeper). The sale wins."""
    sold = {"_id": NUM, "_rev": "5-a", "pvt_state": "in_service",
            "pvt_carrier_data": {"order_id": "o-9"},
            "pvt_request": {"id": "r1", "operation": "move"},
            "pvt_request_state": {"id": "r1", "status": "completed"}}
    resubmitted = {"_id": NUM, "_rev": "6-b", "pvt_state": "discovery",
                   "pvt_request": {"id": "r1", "operation": "move"}}
    merged = merge_number(resubmitted, [sold])
    assert merged["pvt_state"] == "in_service"
    assert merged["pvt_request_state"]["status"] == "completed"
    assert merged["pvt_carrier_data"] == {"order_id": "o-9"}
