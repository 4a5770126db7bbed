"""`db load` of KAZOO's dump layout (tests/fixtures/dbs), and the round trip every fixture number must survive."""
import json
from pathlib import Path

from kzcarrier.model.document import PhoneNumber
from kzcarrier.numbers import decode_db
from kzcarrier.sync.loader import load_directory


def fixture_docs(fixtures_dir: Path):
    for db_dir in sorted((fixtures_dir / "dbs").iterdir()):
        for path in sorted((db_dir / "docs").glob("*.json")) if (db_dir / "docs").exists() else []:
            yield decode_db(db_dir.name), json.loads(path.read_text())


def test_load_is_complete_and_idempotent(app, fixtures_dir):
    docs = list(fixture_docs(fixtures_dir))
    first = load_directory(app.couch, fixtures_dir / "dbs")
    assert first.failed == []
    assert first.written == len(docs) and first.databases == 19
    second = load_directory(app.couch, fixtures_dir / "dbs")
    assert second.written == 0 and second.unchanged == len(docs)
    for db, doc in docs:
        stored = app.couch.get(db, doc["_id"])
        assert {k: v for k, v in stored.items() if not k.startswith("_")} == \
            {k: v for k, v in doc.items() if not k.startswith("_")}, (db, doc["_id"])
    # the views are installed in number databases, including the empty one
    assert app.couch.get("numbers/+1904", "_design/numbers")
    # attachments named in attachment-index.csv arrive with their bytes
    media = app.couch.get("account/ac/co/unt0000000000000000000000001", "media-main-greeting")
    wav = fixtures_dir / "dbs" / "account%2Fac%2Fco%2Funt0000000000000000000000001" / "docs" / \
        "media-main-greeting.att"
    assert media["_attachments"]["main-greeting.wav"]["length"] == wav.stat().st_size


def test_a_changed_document_is_reloaded_over_the_current_revision(app, fixtures_dir):
    load_directory(app.couch, fixtures_dir / "dbs")
    doc = app.couch.get("numbers/+1555", "+15551239876")
    app.couch.put("numbers/+1555", {**doc, "label": "edited"})
    again = load_directory(app.couch, fixtures_dir / "dbs")
    assert again.written == 1
    assert app.couch.get("numbers/+1555", "+15551239876")["label"] == "front desk"


def test_bad_documents_are_reported_and_the_rest_loads(app, tmp_path):
    docs = tmp_path / "numbers%2F%2B1415" / "docs"
    docs.mkdir(parents=True)
    (docs / "good.json").write_text(json.dumps({"_id": "+14155550100", "pvt_state": "available"}))
    (docs / "bad_state.json").write_text(json.dumps({"_id": "+14155550101",
                                                     "pvt_state": "sold"}))
    (docs / "misfiled.json").write_text(json.dumps({"_id": "+12125550100"}))
    (docs / "broken.json").write_text("{not json")
    (docs / "bad_id.json").write_text(json.dumps({"_id": "4155550100"}))
    report = load_directory(app.couch, tmp_path)
    reasons = {f: r for _, f, r in report.failed}
    assert report.written == 1 and set(reasons) == {"bad_state.json", "misfiled.json",
                                                    "broken.json", "bad_id.json"}
    assert "pvt_state" in reasons["bad_state.json"] and "'sold' is not one of" in reasons["bad_state.json"]
    assert "belongs in numbers/+1212" in reasons["misfiled.json"]
    assert "_id" in reasons["bad_id.json"]
    assert app.couch.get("numbers/+1415", "+14155550101", missing_ok=True) is None


# Keys a 4.x/5.x write may add, and the 3.x keys it renames.
ADDED = {"pvt_type", "pvt_db_name", "pvt_ported_in", "e911", "pvt_used_by", "pvt_created",
         "pvt_module_name",
         "pvt_modified"}
RENAMED = {"pvt_number_state": "pvt_state", "pvt_module_data": "pvt_carrier_data"}
LEGACY_FEATURES = {"dash_e911": "e911", "vitelity_e911": "e911", "telnyx_e911": "e911",
                   "inbound_lookup": "inbound_cnam"}


def expected_module(before):
    if before in (None, "", "undefined"):
        return "knm_local"
    if before in ("wnm_bandwidth", "knm_bandwidth"):
        return "knm_bandwidth2"
    return "knm_" + before[4:] if before.startswith("wnm_") else before


def test_every_fixture_number_survives_read_and_resave(loaded, fixtures_dir):
    couch = loaded.couch
    checked = 0
    for db in couch.number_dbs():
        for row in couch.all_docs(db):
            if row["id"].startswith("_design/"):
                continue
            before = row["doc"]
            pn = PhoneNumber.from_json(before)
            couch.put(db, pn.to_json())
            after = couch.get(db, before["_id"])
            checked += 1
            for key, value in before.items():
                if key == "_rev" or (key.startswith("pvt_") and value in ([], {}, "")):
                    continue
                new_key = RENAMED.get(key, key)
                assert new_key in after, (before["_id"], key)
                if key == "pvt_module_name":
                    assert after[key] == expected_module(value)
                elif key == "pvt_features":
                    names = value if isinstance(value, list) else list(value)
                    assert set(after[key]) - {"local"} == {LEGACY_FEATURES.get(n, n)
                                                          for n in names} - {"local"}
                    if isinstance(value, dict):
                        for name, data in value.items():
                            assert after[key][LEGACY_FEATURES.get(name, name)] == data
                elif key in ("pvt_created", "pvt_modified") and not isinstance(value, int):
                    assert isinstance(after[key], int)
                else:
                    assert after[new_key] == value, (before["_id"], key)
            for key in set(after) - set(before) - {"_rev"}:
                assert key in ADDED or key in RENAMED.values() or key == "pvt_features", \
                    (before["_id"], key)
            assert after["pvt_type"] == "number"
            assert after["pvt_db_name"] == db.replace("/", "%2F").replace("+", "%2B")
            # a second pass changes nothing: the shape is stable
            again = PhoneNumber.from_json(after)
            assert not again.dirty and again.to_json() == after
    assert checked == len(list((fixtures_dir / "dbs").glob("numbers%2F*/docs/*.json")))
