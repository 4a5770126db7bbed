"""The number document model: migration vectors in KAZOO's 3.x/4.x/5.x shapes
(tests/fixtures/migrations), and nothing lost on a round trip."""
import json
from pathlib import Path

import pytest
from document_checks import assert_clean, assert_migrates

from kzcarrier.model.document import GREGORIAN_UNIX_OFFSET, PhoneNumber, now_gregorian

MIGRATIONS = Path(__file__).resolve().parents[1] / "fixtures" / "migrations"
PAIRS = sorted(p.name[:-len("_in.json")] for p in MIGRATIONS.glob("*_in.json"))
CLEAN = sorted(p.name for p in MIGRATIONS.glob("clean_*.json"))


def load(name: str) -> dict:
    return json.loads((MIGRATIONS / name).read_text())


def test_fixture_vectors_present():
    assert len(PAIRS) >= 6 and len(CLEAN) >= 4


@pytest.mark.parametrize("pair", PAIRS)
def test_migration_pair_holds_in_meaning(pair):
    assert_migrates(MIGRATIONS, pair)


def test_3x_state_and_module_migrate():
    got = PhoneNumber.from_json(load("v3_number_state_in.json"))
    assert got.dirty
    doc = got.to_json()
    assert doc["pvt_state"] == "in_service" and "pvt_number_state" not in doc
    assert doc["pvt_ported_in"] is False
    assert "pvt_features" not in doc          # [] -> {} -> not written, as KAZOO
    assert doc["pvt_resource_db"].startswith("account%2F")  # kept, KAZOO drops it
    assert PhoneNumber.from_json(load("v3_wnm_module_in.json")).module_name == "knm_pacwest"
    assert PhoneNumber.from_json(load("v3_bandwidth_e911_in.json")).module_name == "knm_bandwidth2"


def test_legacy_e911_renamed_in_features_and_copied_in_public():
    doc = PhoneNumber.from_json(load("v4_dash_e911_feature_in.json")).to_json()
    assert "dash_e911" not in doc["pvt_features"]
    assert doc["pvt_features"]["e911"]["location_id"] == "88120431"
    assert doc["e911"] == doc["dash_e911"]
    assert doc["pvt_used_by"] == "trunkstore"  # kzcarrier: public used_by migrates


@pytest.mark.parametrize("name", CLEAN)
def test_already_migrated_documents_are_not_dirty(name):
    assert_clean(MIGRATIONS, name)


def test_3x_module_data_becomes_carrier_data_and_list_features_become_objects():
    stored = {"_id": "+14158867900", "pvt_number_state": "in_service",
              "pvt_module_name": "wnm_vitelity", "pvt_module_data": {"order": "A1"},
              "pvt_features": ["failover", "outbound_cnam", "inbound_lookup", "dash_e911",
                               "force_outbound", "port"],
              "failover": {"e164": "+14155550000", "x": 1}, "cnam": {"display_name": "ACME"},
              "dash_e911": {"street_address": "1 Main"}, "force_outbound": True,
              "porting": {"carrier": "x"}, "pvt_created": 63565934344,
              "pvt_modified": 63565934349}
    doc = PhoneNumber.from_json(stored).to_json()
    assert doc["pvt_carrier_data"] == {"order": "A1"} and "pvt_module_data" not in doc
    assert doc["pvt_module_name"] == "knm_vitelity"
    assert doc["pvt_features"] == {
        "failover": {"e164": "+14155550000"}, "outbound_cnam": {"display_name": "ACME"},
        "inbound_cnam": {"inbound_lookup": True}, "e911": {"street_address": "1 Main"},
        "force_outbound": True, "port": {}}
    assert doc["pvt_db_name"] == "numbers%2F%2B1415" and doc["pvt_type"] == "number"


def test_setters_mark_dirty_track_previous_owner_and_clear_used_by():
    pn = PhoneNumber.from_json({"_id": "+15551233322", "pvt_state": "in_service",
                                "pvt_module_name": "knm_local", "pvt_assigned_to": "a" * 32,
                                "pvt_used_by": "callflow", "pvt_created": 1, "pvt_modified": 1})
    assert not pn.dirty
    pn.assigned_to = "b" * 32
    pn.push_reserve_history("b" * 32)
    pn.push_reserve_history("b" * 32)
    doc = pn.to_json()
    assert pn.dirty and doc["pvt_previously_assigned_to"] == "a" * 32
    assert "pvt_used_by" not in doc and doc["pvt_reserve_history"] == ["b" * 32]
    assert doc["pvt_modified"] >= now_gregorian() - 5


def test_new_number_and_gregorian_time():
    pn = PhoneNumber.new("+14158867900", "available", "knm_local")
    doc = pn.to_json()
    assert doc["pvt_features"] == {"local": {}} and doc["pvt_state"] == "available"
    assert abs(doc["pvt_created"] - GREGORIAN_UNIX_OFFSET - __import__("time").time()) < 5
    with pytest.raises(ValueError):
        pn.state = "nonsense"


def test_public_fields_replace_keeps_private():
    pn = PhoneNumber.from_json(load("v3_dash_e911_public_in.json"))
    pn.set_public_fields({"cnam": {"display_name": "X"}})
    doc = pn.to_json()
    assert doc["cnam"] == {"display_name": "X"} and "desk_label" not in doc
    assert doc["pvt_resource_db"] and doc["pvt_reserve_history"]
