"""E911 through each provider's simulated API: registered once, asked before any call, a
bad address a KAZOO-shaped error with nothing written, removed on delete."""
import json

import pytest
from engine_helpers import db_of, request, run_once

from kzcarrier.engine.journal import SERVICE_DB, intent_id
from kzcarrier.ops.model import Hooks
from kzcarrier.ops.operations import Ops, Options

MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))
TELNYX_NUM = "+14352154006"        # knm_telnyx, available; RESELLER's providers are Telnyx's
TRUNK = "+19377038880"             # knm_bandwidth2, CHILD's: Dash E911 (the system default)
MARINA = {"street_address": "301 Marina Blvd.", "locality": "San Francisco", "region": "CA",
          "postal_code": "94123"}
MAIN_ST = {"street_address": "1 Main St", "locality": "Pittsburgh", "region": "PA",
           "postal_code": "15222"}


def doc(app, num):
    return app.couch.get(db_of(num), num, missing_ok=True)


def public(app, num, **changes):
    """The number's public fields with `changes` (an update replaces them all)."""
    stored = doc(app, num)
    fields = {k: v for k, v in stored.items() if not k.startswith(("_", "pvt_"))}
    return {**fields, **changes}


def searched(c, num):
    """A Telnyx search result for `num`, as `kzcarrier search --store` leaves it."""
    c.ensure_db(db_of(num))
    c.put(db_of(num), {"_id": num, "pvt_state": "discovery", "pvt_module_name": "knm_telnyx"})
    return num


@pytest.fixture
def ours(telnyx):
    telnyx.sold[TELNYX_NUM] = {"id": "stock"}      # the platform owns it at Telnyx
    return telnyx


def test_telnyx_registers_once_changes_and_removes(loaded, ours):
    ops = Ops(loaded.couch, loaded.config)
    r = ops.create([TELNYX_NUM], Options(auth_by=MASTER, assign_to=RESELLER,
                                         public_fields={"e911": MARINA}))
    assert r.successes[TELNYX_NUM].provider_calls == ["knm_telnyx_e911"]
    stored = doc(loaded, TELNYX_NUM)
    assert stored["pvt_features"]["e911"] == MARINA
    first = stored["pvt_carrier_data"]["address_id"]
    assert ours.addresses[first]["line_1"] == "301 MARINA BLVD"       # KAZOO's cleansing
    assert ours.numbers[TELNYX_NUM] == {"e911_enabled": True, "e911_address_id": first}
    # the same again: nothing to call, nothing to write
    r = ops.update([TELNYX_NUM], Options(public_fields={"e911": MARINA}))
    assert r.successes[TELNYX_NUM].changed is False and len(ours.record.features) == 1
    # a new address: registered, the old one forgotten at Telnyx
    ops.update([TELNYX_NUM], Options(public_fields={"e911": MAIN_ST}))
    second = doc(loaded, TELNYX_NUM)["pvt_carrier_data"]["address_id"]
    assert second != first and first not in ours.addresses
    assert ours.numbers[TELNYX_NUM]["e911_address_id"] == second
    # no e911 any more: disabled at Telnyx, gone from the document
    ops.update([TELNYX_NUM], Options(public_fields={}))
    stored = doc(loaded, TELNYX_NUM)
    assert "e911" not in stored.get("pvt_features", {})
    assert "address_id" not in stored.get("pvt_carrier_data", {})
    assert ours.numbers[TELNYX_NUM]["e911_enabled"] is False


def test_a_crash_after_registering_does_not_register_twice(loaded, ours):
    """The provider's call happened, the write did not (the worker died): the next run
    asks Telnyx first, finds the address, and only writes."""
    ops = Ops(loaded.couch, loaded.config)
    ops.create([TELNYX_NUM], Options(auth_by=MASTER, assign_to=RESELLER))

    def crash(pn, outcome):
        raise SystemExit("worker killed before the write")

    with pytest.raises(SystemExit):
        Ops(loaded.couch, loaded.config, hooks=Hooks(finish=crash)).update(
            [TELNYX_NUM], Options(public_fields={"e911": MARINA}))
    assert "e911" not in doc(loaded, TELNYX_NUM).get("pvt_features", {})
    assert len(ours.addresses) == 1
    ops.update([TELNYX_NUM], Options(public_fields={"e911": MARINA}))
    assert len(ours.addresses) == 1 and len(ours.record.features) == 1
    stored = doc(loaded, TELNYX_NUM)
    assert stored["pvt_carrier_data"]["address_id"] in ours.addresses
    assert stored["pvt_features"]["e911"] == MARINA


def test_telnyx_refusing_the_address_fails_the_update_and_writes_nothing(loaded, ours):
    ops = Ops(loaded.couch, loaded.config)
    ops.create([TELNYX_NUM], Options(auth_by=MASTER, assign_to=RESELLER))
    before = doc(loaded, TELNYX_NUM)
    r = ops.update([TELNYX_NUM], Options(public_fields={"e911": {**MARINA,
                                                                 "postal_code": "9412"}}))
    err = r.failures[TELNYX_NUM].to_json()
    assert (err["code"], err["error"]) == (500, "unspecified_fault")
    assert "address not valid" in err["message"]
    assert doc(loaded, TELNYX_NUM) == before and ours.record.features == []


def test_dash_through_the_document_protocol(loaded, dash):
    c = loaded.couch
    loaded.config.set("number_manager", "features", {"deny": []})
    rid = request(c, TRUNK, "update", auth_by=CHILD,
                  public_fields=public(loaded, TRUNK, e911=MAIN_ST))
    run_once(c, loaded.config)
    stored = doc(loaded, TRUNK)
    assert stored["pvt_request_state"]["status"] == "completed", stored["pvt_request_state"]
    e911 = stored["pvt_features"]["e911"]
    assert (e911["status"], e911["street_address"], e911["postal_code"]) == (
        "PROVISIONED", "1 MAIN ST", "15222")
    assert stored["e911"] == e911                    # Dash's answer in both places, as KAZOO
    assert dash.registered(TRUNK)["address1"] == "1 Main St"
    assert [f["e911"] for f in dash.record.features] == ["provisioned"]
    intent = c.get(SERVICE_DB, intent_id(TRUNK, rid))          # it went through the journal
    assert (intent["action"], intent["status"]) == ("provision", "applied")
    # the same address again (as Dash answered it): nothing registered twice
    request(c, TRUNK, "update", auth_by=CHILD, public_fields=public(loaded, TRUNK))
    run_once(c, loaded.config)
    assert len(dash.record.features) == 1
    # the admin's hard delete removes the registration
    request(c, TRUNK, "delete", auth_by=MASTER)
    run_once(c, loaded.config)
    assert dash.registered(TRUNK) is None
    assert [f["e911"] for f in dash.record.features] == ["provisioned", "removed"]


@pytest.mark.parametrize("address,code,error,words", [
    ({**MAIN_ST, "postal_code": "ABCDE"}, 400, "invalid", "Location is not valid"),
    ({**MAIN_ST, "street_address": "Main St"}, 400, "invalid", "Location is not valid"),
    ({**MAIN_ST, "locality": "Springfield"}, 500, "unspecified_fault", "multiple_choice"),
    ({"street_address": "1 Main St"}, 400, "invalid", "postal_code"),
])
def test_dash_bad_addresses_fail_the_request_and_change_nothing(loaded, dash, address, code,
                                                                error, words):
    c = loaded.couch
    loaded.config.set("number_manager", "features", {"deny": []})
    before = doc(loaded, TRUNK)
    request(c, TRUNK, "update", auth_by=CHILD, public_fields=public(loaded, TRUNK, e911=address))
    run_once(c, loaded.config)
    stored = doc(loaded, TRUNK)
    st = stored["pvt_request_state"]
    assert (st["status"], st["error"]["code"], st["error"]["error"]) == ("failed", code, error)
    assert words in json.dumps(st["error"])
    assert stored["pvt_features"] == before["pvt_features"] and dash.record.features == []
    if error == "unspecified_fault":       # the choices come back to the client
        assert len(json.loads(st["error"]["cause"])["details"]) == 2


def test_a_bad_address_stops_a_purchase_before_the_carrier_is_called(loaded, telnyx, dash):
    """Validation runs while planning: the carrier is never asked to sell the number."""
    c = loaded.couch
    num = searched(c, "+16462000001")
    request(c, num, "move", auth_by=CHILD, assign_to=CHILD,
            public_fields={"e911": {**MAIN_ST, "postal_code": "ABCDE"}})
    run_once(c, loaded.config)
    stored = doc(loaded, num)
    assert stored["pvt_request_state"]["error"]["error"] == "invalid"
    assert stored["pvt_state"] == "discovery" and telnyx.record.orders == []
    # a good one: bought, then registered
    request(c, num, "move", auth_by=CHILD, assign_to=CHILD, public_fields={"e911": MAIN_ST})
    run_once(c, loaded.config)
    stored = doc(loaded, num)
    assert stored["pvt_state"] == "in_service" and len(telnyx.record.orders) == 1
    assert stored["pvt_features"]["e911"]["status"] == "PROVISIONED"
    assert dash.registered(num)["postalcode"] == "15222"


def test_a_dry_run_prices_the_feature_it_would_add(loaded, dash):
    """CHILD's plan prices E911: the dry run names the provider and quotes it."""
    c = loaded.couch
    loaded.config.set("number_manager", "features", {"deny": []})
    c.put("account/ac/co/unt0000000000000000000000002", {
        "_id": "plan_e911", "pvt_type": "service_plan",
        "plan": {"number_services": {"e911": {"rate": 2.0, "activation_charge": 5}}}})
    services = c.get("services", CHILD)
    c.put("services", {**services, "plans": {"plan_e911": {"vendor_id": RESELLER}}})
    stored = doc(loaded, TRUNK)
    fields = public(loaded, TRUNK, e911=MAIN_ST)
    feats = {k: v for k, v in stored["pvt_features"].items() if k != "e911"}
    c.put(db_of(TRUNK), {**stored, "pvt_features": feats})        # no E911 yet
    r = Ops(c, loaded.config).update([TRUNK], Options(auth_by=CHILD, dry_run=True,
                                                      public_fields=fields))
    assert r.successes[TRUNK].provider_calls == ["knm_dash_e911"]
    [invoice] = r.charges
    items = {(i["category"], i["item"]): i for i in invoice["items"]}
    assert items[("number_services", "e911")]["total"] == 2.0
    assert dash.record.features == []                     # nothing registered


def test_telnyx_through_the_document_protocol(loaded, ours):
    c = loaded.couch
    Ops(c, loaded.config).create([TELNYX_NUM], Options(auth_by=MASTER, assign_to=RESELLER))
    rid = request(c, TELNYX_NUM, "update", auth_by=RESELLER, public_fields={"e911": MARINA})
    run_once(c, loaded.config)
    stored = doc(loaded, TELNYX_NUM)
    assert stored["pvt_request_state"]["status"] == "completed"
    assert stored["pvt_features"]["e911"] == MARINA
    assert ours.numbers[TELNYX_NUM]["e911_address_id"] == stored["pvt_carrier_data"][
        "address_id"]
    assert c.get(SERVICE_DB, intent_id(TELNYX_NUM, rid))["status"] == "applied"


def test_a_provider_failing_after_the_purchase_keeps_the_purchase(loaded, telnyx):
    """Telnyx refuses the address only when asked to create it, after the number was
    bought: the purchase is written, the feature is not, and the request says so."""
    c = loaded.couch
    num = searched(c, "+16462000002")
    request(c, num, "move", auth_by=RESELLER, assign_to=RESELLER,
            public_fields={"e911": {**MARINA, "postal_code": "9412"}})
    run_once(c, loaded.config)
    stored = doc(loaded, num)
    st = stored["pvt_request_state"]
    assert (st["status"], stored["pvt_state"]) == ("completed", "in_service")
    assert len(telnyx.record.orders) == 1 and "e911" not in stored.get("pvt_features", {})
    assert "address not valid" in st["features_error"]["message"]


def test_a_release_removes_the_registration(loaded, dash):
    """KAZOO resets the features before its providers run on a release, so its E911
    registrations outlive the number; here the provider removes what it set up."""
    num = "+15551239876"                 # local; CHILD's providers are the system's (Dash)
    loaded.config.set("number_manager", "local_feature_override", True)
    ops = Ops(loaded.couch, loaded.config)
    ops.move([num], CHILD, Options(auth_by=MASTER, public_fields={"e911": MAIN_ST}))
    assert dash.registered(num)["postalcode"] == "15222"
    r = ops.release([num], Options(auth_by=CHILD))
    assert not r.failures, r.to_json()
    assert dash.registered(num) is None
    assert [f["e911"] for f in dash.record.features] == ["provisioned", "removed"]
