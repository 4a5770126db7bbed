"""Telnyx CNAM (KAZOO's knm_telnyx_tests:cnam): set at Telnyx, asked first, turned off."""
from engine_helpers import db_of

from kzcarrier.ops.operations import Ops, Options

MASTER, RESELLER = (f"account{n:025d}" for n in (1, 2))
NUM = "+14352154006"     # knm_telnyx, available; RESELLER's CNAM provider is Telnyx's


def test_cnam_at_telnyx(loaded, telnyx):
    telnyx.sold[NUM] = {"id": "stock"}
    ops = Ops(loaded.couch, loaded.config)
    r = ops.create([NUM], Options(auth_by=MASTER, assign_to=RESELLER, public_fields={
        "cnam": {"inbound_lookup": True, "display_name": "my CNAM"}}))
    assert r.successes[NUM].provider_calls == ["knm_telnyx_cnam"]
    feats = loaded.couch.get(db_of(NUM), NUM)["pvt_features"]
    assert feats["outbound_cnam"] == {"display_name": "my CNAM"}
    assert feats["inbound_cnam"] == {"inbound_lookup": True}
    assert telnyx.numbers[NUM] == {"cnam_listing_details": "my CNAM",
                                   "enable_caller_id_name": True}
    r = ops.update([NUM], Options(public_fields={
        "cnam": {"inbound_lookup": True, "display_name": "my CNAM"}}))
    assert r.successes[NUM].changed is False and len(telnyx.record.features) == 1
    ops.update([NUM], Options(public_fields={"cnam": {"inbound_lookup": False}}))
    stored = loaded.couch.get(db_of(NUM), NUM)
    assert not {"inbound_cnam", "outbound_cnam"} & set(stored.get("pvt_features", {}))
    assert telnyx.numbers[NUM]["enable_caller_id_name"] is False
