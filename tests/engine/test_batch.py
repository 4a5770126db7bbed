"""The engine's fast path for a page of its feed: fresh requests that call no carrier,
planned and written together; everything else handed back for one by one."""

from engine_helpers import CHILD, MASTER, acct_db, count_bulk_requests, request

from kzcarrier.engine.batch import Batch
from kzcarrier.engine.processor import Processor

DB = "numbers/+1555"
LOCAL = [f"+1555777{i:04d}" for i in range(30)]
BUY, BROKEN, DRY, RETRIED = "+15557770100", "+15557770101", "+15557770102", "+15557770103"


def page(couch, nums):
    return [couch.get(DB, n) for n in nums]


def test_a_page_of_local_requests_is_planned_and_written_together(loaded, acme, monkeypatch):
    c = loaded.couch
    for num in LOCAL:
        request(c, num, "create", auth_by=MASTER, assign_to=CHILD)
    c.put(DB, {"_id": BUY, "pvt_state": "discovery", "pvt_module_name": "knm_acme"})
    request(c, BUY, "move", assign_to=CHILD, auth_by=CHILD)          # a carrier purchase
    request(c, BROKEN, "transition")                                  # no target state
    request(c, DRY, "create", auth_by=MASTER, assign_to=CHILD, dry_run=True)
    rid = request(c, RETRIED, "create", auth_by=MASTER, assign_to=CHILD)
    c.update(DB, RETRIED, lambda d: {**d, "pvt_request_state": {
        "id": rid, "status": "running", "attempts": 1, "claim_expires": 0}})
    others = [BUY, BROKEN, DRY, RETRIED]
    docs = page(c, LOCAL + others)
    sent = count_bulk_requests(c, monkeypatch)

    result = Batch(Processor(c, loaded.config, "w1")).process(DB, docs)

    assert result.statuses == {num: "completed" for num in LOCAL}
    handed_back = sorted((num, doc["_rev"]) for num, doc in result.single)
    assert handed_back == sorted((d["_id"], d["_rev"]) for d in docs[-4:])   # as read
    assert [n for db, n in sent if db == DB] == [30]      # one write for the 30 numbers
    assert [n for db, n in sent if db == acct_db(CHILD)] == [30]   # one for their copies
    assert acme.CALLS == []
    for num, before in zip(LOCAL, docs):
        doc = c.get(DB, num)
        st = doc["pvt_request_state"]
        assert (doc["pvt_state"], doc["pvt_assigned_to"]) == ("in_service", CHILD)
        assert (st["id"], st["status"], st["attempts"], st["to_state"], st["error"]) == (
            before["pvt_request"]["id"], "completed", 1, "in_service", None)
        assert [(t["request_id"], t["to"]) for t in doc["pvt_transitions"]] == [
            (st["id"], "in_service")]
        assert c.get(acct_db(CHILD), num)["pvt_state"] == "in_service"   # account copy
    for before in docs[-4:]:
        assert c.get(DB, before["_id"])["_rev"] == before["_rev"]     # untouched here


def test_a_number_changed_after_the_page_was_read_is_decided_again(loaded):
    c = loaded.couch
    for num in LOCAL[:3]:
        request(c, num, "create", auth_by=MASTER, assign_to=CHILD)
    docs = page(c, LOCAL[:3])
    edited = dict(docs[1], note="the user's edit")
    c.put(DB, edited)                                   # between the feed read and the write
    proc = Processor(c, loaded.config, "w1")

    result = Batch(proc).process(DB, docs)

    assert sorted(result.statuses) == [LOCAL[0], LOCAL[2]]
    assert result.single == [(LOCAL[1], None)]                           # read it again
    assert "pvt_request_state" not in c.get(DB, LOCAL[1])                # nothing overwritten
    assert proc.process(DB, LOCAL[1]) == "completed"
    doc = c.get(DB, LOCAL[1])
    assert (doc["note"], doc["pvt_state"], len(doc["pvt_transitions"])) == (
        "the user's edit", "in_service", 1)
