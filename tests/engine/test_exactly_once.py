"""Exactly once at the carrier, under the failures review found (R1-R12 of the review's
engine reproductions, turned round: each asserts the right behaviour)."""
import threading
import time
from contextlib import contextmanager

import pytest
from engine_helpers import (
    CHILD,
    FAST,
    Background,
    configure_bandwidth2,
    count_requests,
    db_of,
    request,
    run_once,
)

from kzcarrier.carriers import Carrier
from kzcarrier.engine import admin, protocol
from kzcarrier.engine.journal import CALLED, SERVICE_DB, intent_id
from kzcarrier.engine.processor import Processor
from kzcarrier.errors import ByCarrier

NUM = "+14155550177"


class Mono:
    """A monotonic clock a test moves by hand (lease expiry is judged on it)."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def discovery(c, num=NUM, module="knm_acme"):
    c.ensure_db(db_of(num))
    c.put(db_of(num), {"_id": num, "pvt_state": "discovery", "pvt_module_name": module})


def state(c, num=NUM):
    d = c.get(db_of(num), num)
    st = d.get("pvt_request_state") or {}
    return d.get("pvt_state"), st.get("status"), (st.get("error") or {}).get("error")


def journal(c, rid, num=NUM):
    return c.get(SERVICE_DB, intent_id(num, rid), missing_ok=True)


def test_R1_a_slow_carrier_call_keeps_its_lease_no_second_purchase(loaded, acme, monkeypatch):
    """Carrier latency (2 s) beyond the claim TTL (1 s): the holder renews its lease, the
    second worker sees it renewed and leaves the request alone."""
    c = loaded.couch
    loaded.config.set("number_manager", "request_claim_ttl_s", 1)
    monkeypatch.setenv("ACME_LATENCY", "2.0")
    discovery(c)
    request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)
    res = {}
    a = threading.Thread(target=lambda: res.__setitem__(
        "A", Processor(c, loaded.config, "w-A").process(db_of(NUM), NUM)))
    a.start()
    time.sleep(1.3)                       # A's number-document claim has expired
    res["B"] = Processor(c, loaded.config, "w-B").process(db_of(NUM), NUM)
    a.join()
    assert res == {"A": "completed", "B": "busy"}
    assert acme.CALLS.count(("acquire", NUM)) == 1
    assert state(c) == ("in_service", "completed", None)


def test_R1b_waiting_for_a_concurrency_slot_keeps_the_lease(loaded, acme):
    c = loaded.couch
    loaded.config.set("number_manager", "request_claim_ttl_s", 1)
    discovery(c)
    request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)

    @contextmanager
    def queued(module):      # a max_concurrency slot that takes 2 s to free
        time.sleep(2.0)
        yield

    res = {}
    a = threading.Thread(target=lambda: res.__setitem__(
        "A", Processor(c, loaded.config, "w-A", gate=queued).process(db_of(NUM), NUM)))
    a.start()
    time.sleep(1.3)
    res["B"] = Processor(c, loaded.config, "w-B").process(db_of(NUM), NUM)
    a.join()
    assert res == {"A": "completed", "B": "busy"}
    assert acme.CALLS.count(("acquire", NUM)) == 1


def rewritten_once(c, keep_request: bool):
    """A gate that, at the first carrier call, writes the number again as a client or
    KAZOO would: its state and module, none of kzcarrier's fields (but the request, if a
    client re-submits it)."""
    done = []

    @contextmanager
    def rewrite(module):
        if not done:
            done.append(1)
            cur = c.get(db_of(NUM), NUM)
            body = {"_id": NUM, "_rev": cur["_rev"], "pvt_state": "discovery",
                    "pvt_module_name": "knm_acme", "pvt_modified": 63900000000}
            if keep_request:
                body["pvt_request"] = cur["pvt_request"]
            c.put(db_of(NUM), body)
        yield

    return rewrite


def test_R2_the_same_request_written_again_mid_call_buys_once(loaded, acme):
    """A client re-submits the same request id during the carrier call (after its own
    timeout), without kzcarrier's claim: the journal still knows, the purchase is applied,
    once."""
    c = loaded.couch
    discovery(c)
    rid = request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)
    status = Processor(c, loaded.config, "w-A", gate=rewritten_once(c, True)).process(
        db_of(NUM), NUM)
    d = c.get(db_of(NUM), NUM)
    assert status == "completed" and acme.CALLS.count(("acquire", NUM)) == 1
    assert d["pvt_request_state"]["id"] == rid and d["pvt_state"] == "in_service"
    assert d["pvt_carrier_data"]["acme_order"] == f"order-{NUM}"
    assert journal(c, rid)["status"] == "applied"


class Crash(BaseException):
    """kill -9 between the carrier's answer and the write-back."""


def test_R3_a_crash_after_buying_on_the_last_attempt_is_applied_not_given_up(
        loaded, acme, monkeypatch):
    c = loaded.couch
    discovery(c)
    rid = request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)
    acme.TRANSIENT[NUM] = 4                 # attempts 1-4: 503 from the carrier
    off = [0.0]
    clock = lambda: protocol.now() + off[0]  # noqa: E731
    for _ in range(4):
        assert Processor(c, loaded.config, "w-A", clock=clock).process(db_of(NUM), NUM) == \
            "retry"
        off[0] += 100
    a = Processor(c, loaded.config, "w-A", clock=clock)
    monkeypatch.setattr(a, "finish", lambda *x, **k: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        a.process(db_of(NUM), NUM)          # attempt 5: bought, then the process dies
    assert NUM in acme.SOLD and journal(c, rid)["status"] == CALLED
    off[0] += 1000                          # the number-document claim expires
    mono = Mono()
    b = Processor(c, loaded.config, "w-B", clock=clock, mono=mono)
    assert b.process(db_of(NUM), NUM) == "busy"      # A's lease: seen once, not yet expired
    mono.t += 121                                    # seen unchanged for a whole TTL
    assert b.process(db_of(NUM), NUM) == "completed"
    assert state(c) == ("in_service", "completed", None)
    assert acme.CALLS.count(("acquire", NUM)) == 5   # four 503s and the one sale
    assert c.get(db_of(NUM), NUM)["pvt_carrier_data"]["acme_order"] == f"order-{NUM}"


def test_R4_an_operator_retry_after_an_unknown_outcome_asks_before_buying(
        loaded, acme, monkeypatch):
    c = loaded.couch
    loaded.config.set("number_manager", "request_max_attempts", 1)
    discovery(c)
    rid = request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)
    original = acme.Acme.acquire_number
    once = []

    def sold_then_timeout(self, pn):
        out = original(self, pn)
        if not once:
            once.append(1)
            raise ByCarrier(pn.number, self.name, "timeout: ReadTimeout", transient=True)
        return out

    monkeypatch.setattr(acme.Acme, "acquire_number", sold_then_timeout)
    assert Processor(c, loaded.config, "w-A").process(db_of(NUM), NUM) == "failed"
    assert journal(c, rid)["status"] == "unknown"       # the intent outlives the failure
    admin.retry(c, loaded.rules(), NUM)
    assert Processor(c, loaded.config, "w-B").process(db_of(NUM), NUM) == "completed"
    assert acme.CALLS.count(("acquire", NUM)) == 1
    assert state(c) == ("in_service", "completed", None)


def test_cancel_is_refused_while_the_carrier_may_have_acted(loaded, acme, monkeypatch):
    c = loaded.couch
    loaded.config.set("number_manager", "request_max_attempts", 1)
    discovery(c)
    request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)

    def timeout(self, pn):
        raise ByCarrier(pn.number, self.name, "timeout: ReadTimeout", transient=True)

    monkeypatch.setattr(acme.Acme, "acquire_number", timeout)
    Processor(c, loaded.config, "w-A").process(db_of(NUM), NUM)
    admin.retry(c, loaded.rules(), NUM)
    with pytest.raises(Exception, match="may have reached the carrier"):
        admin.cancel(c, loaded.rules(), NUM)


def test_R10_a_carrier_module_not_installed_fails_and_leaves_the_number(loaded):
    c = loaded.couch
    discovery(c, NUM, "knm_telnyxx")
    request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)
    assert Processor(c, loaded.config, "w-A").process(db_of(NUM), NUM) == "failed"
    d = c.get(db_of(NUM), NUM)
    assert d["pvt_state"] == "discovery" and d["pvt_module_name"] == "knm_telnyxx"
    err = d["pvt_request_state"]["error"]
    assert err["error"] == "carrier_not_installed" and "knm_telnyxx" in err["message"]


def test_R12_a_503_proves_nothing_was_done_and_is_retried_without_a_lookup(
        loaded, acme, monkeypatch):
    """A carrier without order lookup: the 503 said nothing happened, so the next attempt
    simply calls again (before: a permanent carrier_state_unknown)."""
    c = loaded.couch
    monkeypatch.setattr(acme.Acme, "lookup_order", Carrier.lookup_order)
    discovery(c)
    request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)
    acme.TRANSIENT[NUM] = 1
    off = [0.0]
    clock = lambda: protocol.now() + off[0]  # noqa: E731
    assert Processor(c, loaded.config, "w-A", clock=clock).process(db_of(NUM), NUM) == "retry"
    off[0] += 100
    assert Processor(c, loaded.config, "w-A", clock=clock).process(db_of(NUM), NUM) == \
        "completed"
    assert acme.CALLS.count(("acquire", NUM)) == 2 and NUM in acme.SOLD


def test_an_unknown_outcome_at_a_carrier_without_lookup_fails_safe(loaded, acme, monkeypatch):
    """A timeout proves nothing: without a lookup the request fails rather than buy twice,
    and says so."""
    c = loaded.couch
    monkeypatch.setattr(acme.Acme, "lookup_order", Carrier.lookup_order)
    discovery(c)
    request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)

    def timeout(self, pn):
        acme.CALLS.append(("acquire", pn.number))
        raise ByCarrier(pn.number, self.name, "timeout: ReadTimeout", transient=True)

    monkeypatch.setattr(acme.Acme, "acquire_number", timeout)
    off = [0.0]
    clock = lambda: protocol.now() + off[0]  # noqa: E731
    assert Processor(c, loaded.config, "w-A", clock=clock).process(db_of(NUM), NUM) == "retry"
    off[0] += 100
    assert Processor(c, loaded.config, "w-A", clock=clock).process(db_of(NUM), NUM) == "failed"
    assert acme.CALLS.count(("acquire", NUM)) == 1
    assert state(c) == ("discovery", "failed", "carrier_state_unknown")


def test_live_watchers_buy_each_number_once_with_a_short_lease(loaded, acme, monkeypatch):
    """Two live watchers, carrier calls longer than the lease TTL: every number sold once."""
    c = loaded.couch
    loaded.config.set("number_manager", "request_claim_ttl_s", 1)
    monkeypatch.setenv("ACME_LATENCY", "1.5")
    nums = [f"+1415555{i:04d}" for i in range(6)]
    for num in nums:
        discovery(c, num)
        request(c, num, "move", assign_to=CHILD)
    with Background(c, loaded.config, "wa"), Background(c, loaded.config, "wb"):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
                protocol.is_pending(c.get(db_of(n), n)) for n in nums):
            time.sleep(0.2)
    assert all(state(c, n) == ("in_service", "completed", None) for n in nums)
    assert sorted(acme.CALLS) == sorted(("acquire", n) for n in nums)
    assert FAST.steal_after < 2


def test_R5_a_bandwidth_order_still_in_progress_is_waited_for_not_placed_again(loaded):
    """Bandwidth is slow today: the order outlives the carrier's wait. The next attempt
    finds it RECEIVED and waits (before: ordered again, refused, failed, then sold)."""
    from kzcarrier.simulators.bandwidth2 import Bandwidth2Simulator

    sim = Bandwidth2Simulator().start()
    try:
        cfg = loaded.config
        configure_bandwidth2(cfg, sim, order_wait_s=1)
        sim.complete_after = 10 ** 6
        num = "+19734096113"
        c = loaded.couch
        discovery(c, num, "knm_bandwidth2")
        request(c, num, "move", assign_to=CHILD, auth_by=CHILD)
        off = [0.0]
        clock = lambda: protocol.now() + off[0]  # noqa: E731
        statuses = []
        for _ in range(3):
            statuses.append(Processor(c, cfg, "w-A", clock=clock).process(db_of(num), num))
            off[0] += 100
        assert statuses == ["retry", "retry", "retry"]
        assert state(c, num)[:2] == ("discovery", "running")
        sim.complete_after = 0                # the order completes
        assert Processor(c, cfg, "w-A", clock=clock).process(db_of(num), num) == "completed"
        assert len(sim.record.orders) == 1 and num in sim.sold
        doc = c.get(db_of(num), num)
        assert doc["pvt_state"] == "in_service"
        assert list(sim.orders) == [doc["pvt_carrier_data"]["bandwidth_order_id"]]
    finally:
        sim.stop()


def test_a_kazoo_save_that_drops_the_request_mid_call_still_ends_bought_once(loaded, acme):
    """KAZOO saves the number during the carrier call and drops every field it does not
    know, the request included. The journal holds the purchase: the request is written
    back from it and the sale applied, once."""
    c = loaded.couch
    discovery(c)
    rid = request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)
    kazoo_saves = rewritten_once(c, False)
    assert Processor(c, loaded.config, "w-A", gate=kazoo_saves).process(db_of(NUM), NUM) == \
        "idle"                                   # nothing to write back to: no request
    assert journal(c, rid)["status"] == CALLED and journal(c, rid)["holder"] is None
    run_once(c, loaded.config)                   # its sweep: the journal's recovery
    d = c.get(db_of(NUM), NUM)
    assert d["pvt_state"] == "in_service" and d["pvt_request"]["id"] == rid
    assert d["pvt_request_state"]["status"] == "completed"
    assert acme.CALLS.count(("acquire", NUM)) == 1
    assert journal(c, rid)["status"] == "applied"


def test_a_first_attempt_writes_its_intent_unread_yet_finds_a_sale_left_before(
        loaded, acme, monkeypatch):
    """A request's first attempt creates its intent without reading it first (one read
    less per purchase); an intent that is there all the same (a sale whose write-back was
    lost with kzcarrier's state, the request written again) refuses that write, is read,
    and its sale is applied: nothing is bought twice."""
    c = loaded.couch
    discovery(c, "+14155550178")
    request(c, "+14155550178", "move", assign_to=CHILD, auth_by=CHILD)
    reads = count_requests(c, monkeypatch)
    assert Processor(c, loaded.config, "w-A").process(db_of("+14155550178"),
                                                      "+14155550178") == "completed"
    assert not [w for w in reads if "intent:" in w and w.startswith(("get", "read"))], reads

    discovery(c)
    rid = request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)
    c.put(SERVICE_DB, {"_id": intent_id(NUM, rid), "type": "intent", "db": db_of(NUM),
                       "number": NUM, "request_id": rid, "action": "acquire",
                       "carrier": "knm_acme", "status": CALLED, "holder": None,
                       "lease": None, "result": {"acme_order": f"order-{NUM}"}})
    assert Processor(c, loaded.config, "w-B").process(db_of(NUM), NUM) == "completed"
    d = c.get(db_of(NUM), NUM)
    assert acme.CALLS.count(("acquire", NUM)) == 0
    assert d["pvt_state"] == "in_service"
    assert d["pvt_carrier_data"]["acme_order"] == f"order-{NUM}"
    assert journal(c, rid)["status"] == "applied"
