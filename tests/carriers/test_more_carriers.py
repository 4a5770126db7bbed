"""knm_other, knm_vitelity and knm_simwood against their simulators over loopback HTTP:
KAZOO's carrier tests where the catalogue has them, release, order lookup, faults."""
import pytest
from engine_helpers import CHILD, assert_released_for_good, buy_then_release, request, run_once

from kzcarrier import carriers
from kzcarrier.carriers import CarrierContext
from kzcarrier.errors import ByCarrier, Unspecified
from kzcarrier.model.document import PhoneNumber
from kzcarrier.simulators.other import OtherSimulator
from kzcarrier.simulators.simwood import SimwoodSimulator
from kzcarrier.simulators.vitelity import VitelitySimulator


def configure(app, carrier, **keys):
    for key, value in keys.items():
        app.config.set(f"number_manager.{carrier}", key, value)
    return carriers.load(carrier, CarrierContext(couch=app.couch, config=app.config))


def pn(num, module, ref=None):
    out = PhoneNumber.from_json({"_id": num, "pvt_state": "discovery",
                                 "pvt_module_name": module})
    out.order_reference = ref
    return out


@pytest.fixture
def other(app):
    sim = OtherSimulator().start()
    yield sim, configure(app, "other", phonebook_url=sim.url, endpoints=["sip:gw1"])
    sim.stop()


@pytest.fixture
def vitelity(app):
    sim = VitelitySimulator().start()
    yield sim, configure(app, "vitelity", api_uri=f"{sim.url}/api.php", login=sim.login,
                         routesip=["1.2.3.4", "5.6.7.8"], **{"pass": sim.password})
    sim.stop()


@pytest.fixture
def simwood(app):
    sim = SimwoodSimulator().start()
    yield sim, configure(app, "simwood", numbers_api_url=f"{sim.url}/v3/numbers",
                         simwood_account_id=sim.account, auth_username=sim.user,
                         auth_password=sim.password)
    sim.stop()


def test_other_search_blocks_check_order_release(other):
    sim, c = other
    found = c.find_numbers("+1415886790", 10, {})
    assert sorted(found) == [f"+1415886790{i}" for i in range(10)]
    assert found["+14158867903"] == {"extension": "3"}
    [block] = c.find_numbers("+1415886", 1, {"blocks": 1}).values()
    assert block["start_number"] == "+14158860000"
    got = c.acquire_number(pn("+14158867900", "knm_other", "r1"))
    assert got.features["locality"]["city"] == "SIMVILLE" and got.carrier_data["order"] == 1
    assert sim.record.orders[0]["reference"] == "r1"
    assert sim.record.orders[0]["gateways"] == ["sip:gw1"]
    assert c.check_numbers(["+14158867900", "+14158867901"]) == {
        "+14158867900": "in_service", "+14158867901": "available"}
    assert c.lookup_order(pn("+14158867900", "knm_other"), "r1", "acquire") == {}
    assert c.lookup_order(pn("+14158867901", "knm_other"), "r1", "acquire") is None
    c.disconnect_number(pn("+14158867900", "knm_other"))
    assert sim.record.releases == [{"number": "+14158867900"}]


def test_other_without_phonebook_url(app):
    c = carriers.load("other", CarrierContext(couch=app.couch, config=app.config))
    with pytest.raises(Unspecified, match="missing_provider_url"):
        c.acquire_number(pn("+14158867900", "knm_other"))


def test_vitelity_kazoo_tests_hold(vitelity):
    sim, c = vitelity
    assert list(c.find_numbers("+18887771111", 1, {"tollfree": True})) == ["+18887771111"]
    assert list(c.find_numbers("+18887771111", 1, {})) == ["+18887771111"]
    assert len(c.find_numbers("+19875559876", 1, {})) == 1
    local = c.find_numbers("+1987", 2, {})
    assert len(local) == 2 and all(n.startswith("+1987") for n in local)
    assert next(iter(local.values()))["ratecenter"] == "ANYCITY"


def test_vitelity_order_lookup_release_and_errors(vitelity):
    sim, c = vitelity
    c.acquire_number(pn("+19875550100", "knm_vitelity"))
    assert sim.record.orders == [{"number": "+19875550100", "routesip": "1.2.3.4"}]
    assert c.lookup_order(pn("+19875550100", "knm_vitelity"), "r", "acquire") == {}
    assert c.lookup_order(pn("+19875550101", "knm_vitelity"), "r", "acquire") is None
    with pytest.raises(ByCarrier, match="DID not available"):
        c.acquire_number(pn("+19875550100", "knm_vitelity"))
    c.disconnect_number(pn("+19875550100", "knm_vitelity"))
    assert sim.record.releases == [{"number": "+19875550100"}]
    sim.faults.garbage, sim.faults.times = True, 1
    with pytest.raises(ByCarrier, match="failed_decode_resp") as exc:
        c.find_numbers("+1987", 1, {})
    assert exc.value.transient
    assert not c.should_lookup_cnam()


def test_simwood_results_are_e164_and_orders_work(simwood):
    sim, c = simwood
    found = c.find_numbers("+4420", 5, {})  # normalised though Simwood answers cc + number
    assert len(found) == 5 and all(n.startswith("+4420") and len(n) == 13 for n in found)
    assert next(iter(found.values()))["country_code"] == "44"
    us = c.find_numbers("+1415", 5, {})
    assert len(us) == 5 and all(n.startswith("+1415") and len(n) == 12 for n in us)
    num = next(iter(us))
    c.acquire_number(pn(num, "knm_simwood"))
    assert c.lookup_order(pn(num, "knm_simwood"), "r", "acquire") == {}
    with pytest.raises(ByCarrier, match="number not available"):
        c.acquire_number(pn(num, "knm_simwood"))
    c.disconnect_number(pn(num, "knm_simwood"))
    assert c.lookup_order(pn(num, "knm_simwood"), "r", "acquire") is None
    sim.faults.status, sim.faults.times = 500, 1
    with pytest.raises(ByCarrier) as exc:
        c.find_numbers("+1415", 1, {})
    assert exc.value.transient


@pytest.fixture
def voip(app):
    from kzcarrier.simulators.voip_innovations import VoipInnovationsSimulator
    sim = VoipInnovationsSimulator().start()
    yield sim, configure(app, "voip_innovations", api_url=f"{sim.url}/Services/APIService.asmx",
                         login=sim.login, password=sim.secret, endpoint_group="8674")
    sim.stop()


def test_voip_innovations_kazoo_tests_hold(voip):
    sim, c = voip
    npa = c.find_numbers("+1435", 2, {})
    assert list(npa) == ["+14352016526", "+14352016527"]
    assert npa["+14352016526"] == {"e164": "+14352016526", "rate_center": "RICHFIELD",
                                   "state": "UT", "cnam": True, "t38": True}
    assert list(c.find_numbers("+1877", 1, {})) == ["+18772207304"]
    assert c.find_numbers("+14352", 2, {}) == {}          # 4-5 digits: nothing to ask
    got = c.acquire_number(pn("+14352154006", "knm_voip_innovations", "ref-1"))
    assert got.number == "+14352154006"
    assert sim.record.orders == [{"number": "+14352154006", "refId": "ref-1"}]
    with pytest.raises(ByCarrier) as exc:
        c.disconnect_number(pn("+14352154974", "knm_voip_innovations"))
    assert exc.value.reason == "Number currently available"
    assert c.lookup_order(pn("+14352154006", "knm_voip_innovations"), "ref-1",
                          "acquire") == {}
    assert c.lookup_order(pn("+14352154006", "knm_voip_innovations"), "ref-2",
                          "acquire") is None
    c.disconnect_number(pn("+14352154006", "knm_voip_innovations"))
    assert sim.record.releases == [{"number": "+14352154006"}]
    sim.secret = "rotated"
    with pytest.raises(ByCarrier, match="Invalid login"):
        c.find_numbers("+1435", 1, {})


@pytest.mark.parametrize("name", ["other", "vitelity", "simwood", "voip_innovations"])
def test_buy_and_release_through_the_engine(app, name, other, vitelity, simwood, voip):
    sims = {"other": other[0], "vitelity": vitelity[0], "simwood": simwood[0],
            "voip_innovations": voip[0]}
    num, _, doc, released = buy_then_release(app, name, "415")
    assert doc["pvt_state"] == "in_service" and doc["pvt_module_name"] == f"knm_{name}"
    assert sims[name].record.releases == [{"number": num}]
    assert_released_for_good(app, num, released, sims[name].record.orders)


@pytest.fixture
def voxbone(app):
    from kzcarrier.simulators.voxbone import VoxboneSimulator
    sim = VoxboneSimulator().start()
    yield sim, configure(app, "voxbone", api_url=f"{sim.url}/ws-voxbone/services/rest",
                         api_username=sim.user, api_password=sim.password)
    sim.stop()


def test_voxbone_search_never_buys_stock_is_explicit(app, voxbone):
    from click.testing import CliRunner

    from kzcarrier.cli.main import cli

    sim, c = voxbone
    assert c.find_numbers("+1256", 15, {}) == {}          # nothing owned: nothing found
    assert sim.record.orders == []                         # and nothing bought
    out = CliRunner().invoke(cli, ["--couch-url", app.settings.couch_url, "stock", "voxbone",
                                   "--area-code", "256", "--quantity", "15"])
    assert out.exit_code == 0, out.output
    assert "bought 15 numbers at knm_voxbone" in out.output
    found = c.find_numbers("+1256", 15, {})                 # KAZOO's voxbone test
    assert len(found) == 15 and all(n.startswith("+1256") for n in found)
    assert len(sim.record.orders) == 15
    num = sorted(found)[0]
    request(app.couch, num, "create", module_name="knm_voxbone", assign_to=CHILD,
            state="reserved")
    run_once(app.couch, app.config)
    assert app.couch.get(f"numbers/{num[:5]}", num)["pvt_state"] == "reserved"
    assert num not in c.find_numbers("+1256", 15, {})       # in use: no longer offered
    request(app.couch, num, "release")
    run_once(app.couch, app.config)
    assert sim.record.releases == [{"number": num}]
    with pytest.raises(ByCarrier, match="not in the account"):
        c.acquire_number(pn(num, "knm_voxbone"))
    out = CliRunner().invoke(cli, ["--couch-url", app.settings.couch_url, "stock", "telnyx",
                                   "--area-code", "256"])
    assert out.exit_code == 1 and "individually" in out.output
