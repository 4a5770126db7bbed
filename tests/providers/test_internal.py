"""The providers with no API, and the permission rule every save runs (KAZOO's
knm_providers): requested features that are not available fail the number with 403."""
import time

import pytest

from kzcarrier.ops.operations import Ops, Options

MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))
LOCAL_IN_SERVICE = "+15551233322"     # knm_local, RESELLER's, used by callflow
TRUNK = "+19377038880"                # knm_bandwidth2, CHILD's, used by trunkstore


@pytest.fixture
def ops(loaded):
    return Ops(loaded.couch, loaded.config)


def doc(app, num):
    return app.couch.get(f"numbers/{num[:5]}", num, missing_ok=True)


def test_prepend_and_force_outbound_follow_the_public_fields(ops, loaded):
    r = ops.update([LOCAL_IN_SERVICE], Options(auth_by=RESELLER, public_fields={
        "prepend": {"enabled": True, "name": "VIP"}, "force_outbound": "false"}))
    assert not r.failures
    feats = doc(loaded, LOCAL_IN_SERVICE)["pvt_features"]
    assert feats["prepend"] == {"enabled": True, "name": "VIP"}
    assert feats["force_outbound"] is False               # false is kept, as KAZOO does
    ops.update([LOCAL_IN_SERVICE], Options(auth_by=RESELLER, public_fields={
        "prepend": {"enabled": False}, "force_outbound": "maybe"}))
    feats = doc(loaded, LOCAL_IN_SERVICE)["pvt_features"]
    assert "prepend" not in feats and "force_outbound" not in feats
    assert feats["local"] == {}


def test_features_are_kept_only_in_service(ops, loaded):
    ops.update([LOCAL_IN_SERVICE], Options(public_fields={
        "prepend": {"enabled": True, "name": "VIP"}}))
    r = ops.reserve([LOCAL_IN_SERVICE], Options(auth_by=MASTER, assign_to=CHILD))
    assert r.successes[LOCAL_IN_SERVICE].to_state == "reserved"
    stored = doc(loaded, LOCAL_IN_SERVICE)
    assert "prepend" not in stored["pvt_features"] and stored["prepend"]["name"] == "VIP"


def test_failover_only_for_trunkstore_numbers(ops, loaded):
    r = ops.update([LOCAL_IN_SERVICE], Options(auth_by=RESELLER, public_fields={
        "failover": {"e164": "+15555550000"}}))
    assert r.failures[LOCAL_IN_SERVICE].to_json()["error"] == "forbidden"
    assert "failover" not in doc(loaded, LOCAL_IN_SERVICE)          # nothing written
    loaded.config.set("number_manager", "features", {"deny": []})   # keep e911 allowed
    r = ops.update([TRUNK], Options(auth_by=MASTER, public_fields={
        **{k: v for k, v in doc(loaded, TRUNK).items() if k in ("e911", "cnam")},
        "failover": {"sip": "sip:backup@example.com"}}))
    assert not r.failures, r.to_json()
    assert doc(loaded, TRUNK)["pvt_features"]["failover"] == {"sip": "sip:backup@example.com"}


def test_external_features_on_local_numbers_are_refused_unless_overridden(ops, loaded):
    num = "+15551239876"                 # local; CHILD's reseller names no CNAM provider
    ops.move([num], CHILD, Options(auth_by=MASTER))
    fields = {"cnam": {"display_name": "ACME", "inbound_lookup": True}}
    r = ops.update([num], Options(auth_by=CHILD, public_fields=fields))
    assert r.failures[num].to_json()["code"] == 403
    loaded.config.set("number_manager", "local_feature_override", True)
    r = ops.update([num], Options(auth_by=CHILD, public_fields=fields))
    assert not r.failures
    feats = doc(loaded, num)["pvt_features"]
    assert feats["outbound_cnam"] == {"display_name": "ACME"}       # the notifier records
    assert feats["inbound_cnam"] == {"inbound_lookup": True}


def test_carrier_name_is_admin_only_and_renames_the_module(ops, loaded):
    r = ops.update([LOCAL_IN_SERVICE], Options(auth_by=RESELLER,
                                               public_fields={"carrier_name": "telnyx"}))
    assert r.failures[LOCAL_IN_SERVICE].to_json()["error"] == "forbidden"
    r = ops.update([LOCAL_IN_SERVICE], Options(auth_by=MASTER,
                                               public_fields={"carrier_name": "nope"}))
    err = r.failures[LOCAL_IN_SERVICE].to_json()
    assert (err["code"], err["error"]) == (400, "invalid") and "nope" in err["cause"]
    r = ops.update([LOCAL_IN_SERVICE], Options(auth_by=MASTER,
                                               public_fields={"carrier_name": "wnm_telnyx"}))
    stored = doc(loaded, LOCAL_IN_SERVICE)
    assert stored["pvt_module_name"] == "knm_telnyx" and "carrier_name" not in stored
    assert "local" not in stored.get("pvt_features", {})


def test_dry_run_names_the_providers_that_would_call_and_writes_nothing(ops, loaded, dash):
    before = doc(loaded, TRUNK)
    address = {"street_address": "1 Main St", "locality": "Pittsburgh", "region": "PA",
               "postal_code": "15222"}
    loaded.config.set("number_manager", "features", {"deny": []})
    r = ops.update([TRUNK], Options(auth_by=MASTER, dry_run=True,
                                    public_fields={"e911": address}))
    assert r.successes[TRUNK].provider_calls == ["knm_dash_e911"]
    assert doc(loaded, TRUNK) == before and dash.record.features == []


def test_an_ops_kept_for_long_follows_a_resellers_change_of_its_features(ops, loaded):
    """A toolkit task keeps one Ops for all its numbers. What the reseller allows is asked
    once per account and kept only as long as the configuration's own cache."""
    loaded.config.ttl = 0.2
    wanted = Options(auth_by=RESELLER, public_fields={"prepend": {"enabled": True,
                                                                  "name": "VIP"}})
    assert not ops.update([LOCAL_IN_SERVICE], wanted).failures

    def deny(doc):
        doc.setdefault("features", {})["deny"] = ["prepend"]
        return doc
    loaded.couch.update(f"account/ac/co/unt{MASTER[7:]}", "configs_number_manager", deny)
    time.sleep(0.3)
    failed = ops.update([LOCAL_IN_SERVICE], wanted).failures
    assert failed[LOCAL_IN_SERVICE].to_json()["error"] == "forbidden"
