"""knm_telnyx against its simulator over loopback HTTP: KAZOO's carrier tests, kzcarrier's
additions (release, order lookup), and every fault switch through the engine."""
import pytest
from engine_helpers import CHILD, assert_released_for_good, buy_then_release, request, run_once

from kzcarrier import carriers
from kzcarrier.carriers import CarrierContext
from kzcarrier.errors import ByCarrier, Unspecified
from kzcarrier.model.document import PhoneNumber
from kzcarrier.search import Search
from kzcarrier.simulators.telnyx import TelnyxSimulator


@pytest.fixture
def sim():
    s = TelnyxSimulator().start()
    yield s
    s.stop()


@pytest.fixture
def telnyx(app, sim):
    cfg = app.config
    cfg.set("number_manager.telnyx", "api_url", f"{sim.url}/origination")
    cfg.set("number_manager.telnyx", "user", sim.user)
    cfg.set("number_manager.telnyx", "token", sim.token)
    cfg.set("number_manager.telnyx", "timeout_ms", 1000)
    return carriers.load("telnyx", CarrierContext(couch=app.couch, config=cfg))


def pn(num):
    return PhoneNumber.from_json({"_id": num, "pvt_state": "discovery",
                                  "pvt_module_name": "knm_telnyx"})


def test_kazoo_search_tests_hold(telnyx):
    npa = telnyx.find_numbers("+1301359", 5, {})
    assert len(npa) == 5 and all(n.startswith("+1301359") for n in npa)
    entry = next(iter(npa.values()))
    assert set(entry) == {"best_effort", "currency", "monthly_recurring_cost", "number",
                          "number_e164", "upfront_cost"}
    toll = telnyx.find_numbers("+1800", 2, {})
    assert len(toll) == 2 and all(n.startswith("+1800") for n in toll)
    intl = telnyx.find_numbers("+441", 2, {"country": "GB"})
    assert len(intl) == 2 and all(n.startswith("+441") for n in intl)
    # KAZOO pads dial code + area code to 9 characters, not the area code alone
    assert all(len(n) == 9 for n in intl), intl


def test_acquire_orders_with_the_request_id_and_lookup_finds_it(telnyx, sim):
    number = pn("+13013596695")
    number.order_reference = "req-1"
    got = telnyx.acquire_number(number)
    assert got.carrier_data["order_id"] and sim.sold["+13013596695"]
    assert sim.record.orders[0]["customer_reference"] == "req-1"
    assert telnyx.lookup_order(pn("+13013596695"), "req-1", "acquire") == {
        "order_id": got.carrier_data["order_id"]}
    assert telnyx.lookup_order(pn("+13013596695"), "req-2", "acquire") is None
    with pytest.raises(ByCarrier, match="not available"):      # never sold twice
        telnyx.acquire_number(pn("+13013596695"))
    telnyx.disconnect_number(pn("+13013596695"))
    assert sim.record.releases == [{"number": "+13013596695"}]
    telnyx.disconnect_number(pn("+13013596695"))               # already gone: fine


def test_faults_map_to_transient_and_permanent_errors(telnyx, sim):
    sim.faults.status, sim.faults.times = 503, 1
    with pytest.raises(ByCarrier) as exc:
        telnyx.find_numbers("+1301", 1, {})
    assert exc.value.transient
    sim.faults.status, sim.faults.retry_after, sim.faults.times = 429, 7, 1
    with pytest.raises(ByCarrier) as exc:
        telnyx.find_numbers("+1301", 1, {})
    assert exc.value.transient and exc.value.retry_after == 7
    sim.faults.status, sim.faults.hang, sim.faults.times = None, 3, 1
    with pytest.raises(ByCarrier, match="timeout") as exc:
        telnyx.find_numbers("+1301", 1, {})
    assert exc.value.transient
    sim.faults.hang, sim.faults.garbage, sim.faults.times = 0, True, 1
    with pytest.raises(ByCarrier, match="malformed") as exc:
        telnyx.find_numbers("+1301", 1, {})
    assert exc.value.transient
    sim.faults.garbage = False
    sim.token = "changed"
    with pytest.raises(ByCarrier, match="unauthenticated") as exc:
        telnyx.find_numbers("+1301", 1, {})
    assert not exc.value.transient


def test_provisioning_flags(app, telnyx, sim):
    app.config.set("number_manager.telnyx", "enable_provisioning", False)
    with pytest.raises(Unspecified, match="provisioning_disabled"):
        telnyx.acquire_number(pn("+13015550100"))
    app.config.set("number_manager.telnyx", "sandbox_provisioning", True)
    assert telnyx.acquire_number(pn("+13015550100")).carrier_data == {}
    assert sim.record.orders == []


def test_unconfigured_carrier_makes_no_request(app):
    unconfigured = carriers.load("telnyx", CarrierContext(couch=app.couch, config=app.config))
    with pytest.raises(ByCarrier, match="not configured"):
        unconfigured.find_numbers("+1301", 1, {})


def test_search_buy_release_through_the_engine(app, telnyx, sim):
    num, rid, doc, released = buy_then_release(app, "telnyx", "301359", quantity=2)
    assert doc["pvt_state"] == "in_service" and doc["pvt_module_name"] == "knm_telnyx"
    assert doc["pvt_carrier_data"]["order_id"] == sim.record.orders[0]["id"]
    assert doc["pvt_carrier_data"]["number_e164"] == num        # the search data kept
    assert sim.record.orders[0]["customer_reference"] == rid
    assert sim.record.releases == [{"number": num}]
    assert_released_for_good(app, num, released, sim.record.orders)


def test_carrier_faults_through_the_engine_retry_then_succeed(app, telnyx, sim):
    app.config.set("number_manager", "request_retry_base_ms", 20)
    found = Search(app.couch, app.config).find("301", quantity=2, carriers=["telnyx"],
                                               store=True)
    first, second = (e["number"] for e in found.numbers)
    sim.faults.status, sim.faults.retry_after, sim.faults.times = 429, 1, 1
    request(app.couch, first, "move", assign_to=CHILD)
    run_once(app.couch, app.config)
    doc = app.couch.get(f"numbers/{first[:5]}", first)
    assert doc["pvt_state"] == "in_service" and doc["pvt_request_state"]["attempts"] == 2
    # a garbage answer to the order: the order did happen; the retry finds it, no rebuy
    sim.faults.garbage, sim.faults.times = True, 1
    request(app.couch, second, "move", assign_to=CHILD)
    run_once(app.couch, app.config)
    doc = app.couch.get(f"numbers/{second[:5]}", second)
    assert doc["pvt_state"] == "in_service"
    assert [o["requested_numbers"] for o in sim.record.orders] == [[first], [second]]
