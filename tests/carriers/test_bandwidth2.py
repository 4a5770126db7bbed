"""knm_bandwidth2 against its simulator over loopback HTTP (XML): KAZOO's carrier tests and
the gaps kzcarrier closes (toll-free patterns, bounded polling, partial/failed orders,
order lookup, release)."""
import pytest
from engine_helpers import assert_released_for_good, buy_then_release, configure_bandwidth2

from kzcarrier import carriers
from kzcarrier.carriers import CarrierContext
from kzcarrier.errors import ByCarrier
from kzcarrier.model.document import PhoneNumber
from kzcarrier.simulators.bandwidth2 import Bandwidth2Simulator


@pytest.fixture
def sim():
    s = Bandwidth2Simulator().start()
    yield s
    s.stop()


@pytest.fixture
def bw(app, sim):
    configure_bandwidth2(app.config, sim)
    return carriers.load("bandwidth2", CarrierContext(couch=app.couch, config=app.config))


def pn(num, ref=None):
    out = PhoneNumber.from_json({"_id": num, "pvt_state": "discovery",
                                 "pvt_module_name": "knm_bandwidth2"})
    out.order_reference = ref
    return out


def test_kazoo_search_tests_hold(bw, sim):
    npa = bw.find_numbers("+1973", 2, {})
    assert len(npa) == 2 and all(n.startswith("+1973") for n in npa)
    assert next(iter(npa.values()))["rate_center"] == {"name": "NEWARK", "lata": "224",
                                                       "state": "NJ"}
    toll = bw.find_numbers("+1855", 15, {})
    assert len(toll) == 15 and all(n.startswith("+1855") for n in toll)
    searched = [p for m, p in sim.record.requests if p.endswith("availableNumbers")]
    assert len(searched) == 2
    narrow = bw.find_numbers("+1973370", 3, {})
    assert all(n.startswith("+1973370") for n in narrow)


def test_acquire_polls_until_complete_with_the_request_id(bw, sim):
    sim.complete_after = 3
    got = bw.acquire_number(pn("+19734096113", "req-7"))
    # KAZOO's shape: order_id is the CustomerOrderId (here the request id)
    assert got.carrier_data["order_id"] == "req-7"
    assert got.carrier_data["number"] == "+19734096113"
    assert got.carrier_data["order_name"].startswith("Kazoo-")
    assert sim.record.orders[0]["customer_order_id"] == "req-7"
    assert [p for m, p in sim.record.requests if m == "GET" and "/orders/" in p][-1]
    found = bw.lookup_order(pn("+19734096113"), "req-7", "acquire")
    assert found["bandwidth_order_id"] == got.carrier_data["bandwidth_order_id"]
    assert found["order_id"] == "req-7"
    assert bw.lookup_order(pn("+19734096113"), "req-8", "acquire") is None
    with pytest.raises(ByCarrier, match="unavailable"):
        bw.acquire_number(pn("+19734096113", "req-9"))
    bw.disconnect_number(pn("+19734096113"))
    assert sim.record.releases == [{"number": "+19734096113"}]


def test_polling_is_bounded_and_failed_orders_fail(bw, sim):
    sim.complete_after = 10 ** 6                    # never completes
    with pytest.raises(ByCarrier, match="still RECEIVED") as exc:
        bw.acquire_number(pn("+19734096114", "r1"))
    assert exc.value.transient
    sim.complete_after, sim.order_outcome = 1, "PARTIAL"
    with pytest.raises(ByCarrier, match="PARTIAL: The telephone number is unavailable") as exc:
        bw.acquire_number(pn("+19734096115", "r2"))
    assert not exc.value.transient
    sim.order_outcome = "FAILED"
    with pytest.raises(ByCarrier, match="FAILED"):
        bw.acquire_number(pn("+19734096116", "r3"))


def test_faults(bw, sim):
    sim.faults.status, sim.faults.times = 503, 1
    with pytest.raises(ByCarrier) as exc:
        bw.find_numbers("+1973", 1, {})
    assert exc.value.transient
    sim.faults.status, sim.faults.garbage, sim.faults.times = None, True, 1
    with pytest.raises(ByCarrier, match="malformed") as exc:
        bw.find_numbers("+1973", 1, {})
    assert exc.value.transient
    sim.password = "rotated"
    with pytest.raises(ByCarrier, match="unauthenticated: authentication"):
        bw.find_numbers("+1973", 1, {})


def test_search_buy_release_through_the_engine(app, bw, sim):
    num, rid, doc, released = buy_then_release(app, "bandwidth2", "973")
    assert doc["pvt_state"] == "in_service"
    assert doc["pvt_carrier_data"]["order_id"] == rid
    assert doc["pvt_carrier_data"]["rate_center"]["state"] == "NJ"
    assert sim.record.releases == [{"number": num}]
    assert_released_for_good(app, num, released, sim.record.orders)
