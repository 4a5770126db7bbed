"""Vitelity's E911 and CNAM through its simulated `api.php`."""
import pytest
from engine_helpers import db_of

from kzcarrier.ops.operations import Ops, Options
from kzcarrier.simulators.vitelity import VitelitySimulator

MASTER, CHILD = (f"account{n:025d}" for n in (1, 3))
NUM = "+18122154006"        # knm_vitelity, in service, outbound "Cedar Clinic", inbound on
ADDRESS = {"street_address": "12 Elm St", "extended_address": "Suite 200",
           "locality": "Evansville", "region": "IN", "postal_code": "47708"}


@pytest.fixture
def vitelity(loaded):
    sim = VitelitySimulator().start()
    cfg = loaded.config
    for key, value in (("api_uri", f"{sim.url}/api.php"), ("login", sim.login),
                       ("pass", sim.password), ("timeout_ms", 2000)):
        cfg.set("number_manager.vitelity", key, value)
    cfg.set("number_manager", "e911_provider", "knm_vitelity_e911")
    cfg.set("number_manager", "cnam_provider", "knm_vitelity_cnam")
    sim.sold[NUM] = {}
    ops = Ops(loaded.couch, cfg)
    assert not ops.move([NUM], CHILD, Options(auth_by=MASTER)).failures   # CHILD: system
    yield sim, ops                                                       # providers
    sim.stop()


def doc(app, num=NUM):
    return app.couch.get(db_of(num), num, missing_ok=True)


def fields(app, **changes):
    stored = doc(app)
    return {**{k: v for k, v in stored.items() if not k.startswith(("_", "pvt_"))}, **changes}


def test_e911_checked_sent_once_and_deleted(loaded, vitelity):
    sim, ops = vitelity
    assert sim.record.features == []      # the move changed no feature: nothing was sent
    r = ops.update([NUM], Options(public_fields=fields(loaded, e911={**ADDRESS,
                                                                     "postal_code": "4770"})))
    err = r.failures[NUM].to_json()
    assert (err["code"], err["error"]) == (400, "invalid")
    assert "could not be validated" in err["cause"] and sim.features == {}
    ops.update([NUM], Options(public_fields=fields(loaded, e911=ADDRESS)))
    assert sim.features[NUM]["e911"] == {
        "name": "Cedar Clinic", "address": "12 Elm St", "unittype": "Suite",
        "unitnumber": "200", "city": "Evansville", "state": "IN", "zip": "47708"}
    assert doc(loaded)["pvt_features"]["e911"] == ADDRESS   # the address, not the answer
    ops.update([NUM], Options(public_fields=fields(loaded)))       # same again: nothing
    assert [f.get("e911") for f in sim.record.features] == ["send"]
    ops.delete([NUM], Options(auth_by=MASTER))
    assert "e911" not in sim.features[NUM]
    assert [f.get("e911") for f in sim.record.features if "e911" in f] == ["send", "delete"]


def test_cnam_only_what_changed(loaded, vitelity):
    sim, ops = vitelity
    ops.update([NUM], Options(public_fields=fields(
        loaded, cnam={"display_name": "Cedar East", "inbound_lookup": True})))
    assert sim.record.features == [{"number": NUM, "cnam": "Cedar East"}]
    ops.update([NUM], Options(public_fields=fields(
        loaded, cnam={"display_name": "Cedar East", "inbound_lookup": False})))
    assert sim.record.features[-1] == {"number": NUM, "cnam_lookup": False}
    feats = doc(loaded)["pvt_features"]
    assert feats["outbound_cnam"] == {"display_name": "Cedar East"}
    assert "inbound_cnam" not in feats


def test_e911_through_the_document_protocol(loaded, vitelity):
    from engine_helpers import request, run_once
    sim, _ = vitelity
    request(loaded.couch, NUM, "update", auth_by=CHILD,
            public_fields=fields(loaded, e911=ADDRESS))
    run_once(loaded.couch, loaded.config)
    stored = doc(loaded)
    assert stored["pvt_request_state"]["status"] == "completed"
    assert stored["pvt_features"]["e911"] == ADDRESS and sim.features[NUM]["e911"]["zip"] == \
        "47708"
