"""CSV tasks (kt_numbers), convert-carrier and generate, through the same operations."""
import csv
import io
import json

from kzcarrier.toolkit.columns import COLUMNS

MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))


def csv_text(rows, columns=("e164", "account_id", "cnam.outbound", "prepend.enabled",
                            "prepend.name", "opaque.team.name")):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def results(result):
    return {r["e164"]: r for r in csv.DictReader(io.StringIO(result.stdout))}


def test_import_creates_through_the_rules_one_result_row_each(loaded, run):
    text = csv_text([
        {"e164": "+15552220001", "account_id": CHILD,
         "prepend.enabled": "true", "prepend.name": "CC", "opaque.team.name": "blue"},
        {"e164": "+15552220009", "account_id": CHILD, "cnam.outbound": "Cedar"},
        {"e164": "15552220002", "account_id": CHILD},              # bad cell: no '+'
        {"e164": "+15552220003", "account_id": "nope"},            # bad cell
        {"e164": "+15551233322", "account_id": CHILD},             # in service elsewhere
        {"e164": "+15552220004"},                                  # the task's account
    ])
    out = run("number", "import", "-", "--account", RESELLER, input=text)
    assert out.exit_code == 1
    rows = results(out)
    assert list(next(iter(rows.values()))) == [*COLUMNS, "error"]
    good = rows["+15552220001"]
    assert good["error"] == "" and good["state"] == "in_service"
    assert good["account_id"] == CHILD and good["account_name"] == "Cedar Clinic"
    assert rows["15552220002"]["error"] == "bad field(s) e164"
    assert rows["+15552220003"]["error"] == "bad field(s) account_id"
    assert rows["+15551233322"]["error"] == "number +15551233322 already exists"
    assert rows["+15552220009"]["error"].startswith("requestor is unauthorized")
    assert rows["+15552220004"]["account_id"] == RESELLER
    doc = loaded.couch.get("numbers/+1555", "+15552220001")
    assert doc["team"] == {"name": "blue"}
    assert doc["prepend"] == {"enabled": True, "name": "CC"}
    assert doc["pvt_features"]["prepend"]["name"] == "CC"
    # nothing half-done on the bad rows; the taken number kept its owner
    assert loaded.couch.get("numbers/+1555", "+15552220003", missing_ok=True) is None
    assert loaded.couch.get("numbers/+1555", "+15551233322")["pvt_assigned_to"] == RESELLER
    assert "6 rows: 2 done, 4 failed" in out.output


def test_a_non_admin_import_cannot_pick_the_module_or_touch_another_tree(loaded, run):
    text = csv_text([{"e164": "+15552220005", "account_id": f"account{9:025d}",
                      "carrier_module": "knm_telnyx"}],
                    columns=("e164", "account_id", "carrier_module"))
    rows = results(run("number", "import", "-", "--auth-by", CHILD, input=text))
    assert rows["+15552220005"]["error"].startswith("requestor is unauthorized")
    assert loaded.couch.get("numbers/+1555", "+15552220005", missing_ok=True) is None


def test_export_then_release_and_update_actions(loaded, run, tmp_path):
    run("number", "import", "-", "--account", CHILD,
        input=csv_text([{"e164": "+15552220006"}, {"e164": "+15552220007"}]))
    exported = run("number", "export", "--account", CHILD, "--prefix", "+1555222").stdout
    assert sorted(results(type("R", (), {"stdout": exported})).keys()) == [
        "+15552220006", "+15552220007"]
    upd = csv_text([{"e164": "+15552220006", "prepend.name": "New"}],
                   columns=("e164", "prepend.name"))
    merged = run("number", "import", "-", "--action", "update_merge", input=upd)
    assert merged.exit_code == 0, merged.output
    assert loaded.couch.get("numbers/+1555", "+15552220006")["prepend"]["name"] == "New"
    rel = run("number", "import", "-", "--action", "release",
              input=csv_text([{"e164": "+15552220007"}], columns=("e164",)))
    assert rel.exit_code == 0, rel.output
    assert loaded.couch.get("numbers/+1555", "+15552220007", missing_ok=True) is None


def test_convert_carrier_moves_every_number_of_a_module(loaded, run):
    dry = json.loads(run("number", "convert-carrier", "knm_telnyx", "knm_local", "--dry-run",
                         "--json").stdout)
    assert sorted(dry["updated"]) == ["+14352154006", "+19162154006"]
    assert loaded.couch.get("numbers/+1435", "+14352154006")["pvt_module_name"] == "knm_telnyx"
    out = run("number", "convert-carrier", "knm_telnyx", "knm_local", "--prefix", "+1435")
    assert "for 1/1 number(s)" in out.stdout
    doc = loaded.couch.get("numbers/+1435", "+14352154006")
    assert doc["pvt_module_name"] == "knm_local" and "local" in doc["pvt_features"]
    assert loaded.couch.get("numbers/+1916", "+19162154006")["pvt_module_name"] == "knm_telnyx"
    bad = run("number", "convert-carrier", "knm_telnyx", "knm_nowhere")
    assert bad.exit_code == 1 and "knm_nowhere" in bad.output


def test_update_to_another_module_is_for_admins_only(loaded):
    from kzcarrier.ops.model import Options
    result = loaded.ops().update(["+14352154006"], Options(auth_by=RESELLER,
                                                           module_name="knm_local"))
    assert result.failures["+14352154006"].error == "forbidden"


def test_generate_fills_the_managed_pool(app, run):
    out = json.loads(run("number", "generate", "managed", CHILD, "15553330000", "5",
                         "--json").stdout)
    assert out["created"] == [f"+1555333000{i}" for i in range(5)]
    doc = app.couch.get("numbers/managed", "+15553330002")
    assert doc["pvt_state"] == "available" and doc["pvt_account_id"] == CHILD
    again = json.loads(run("number", "generate", "managed", CHILD, "15553330004", "2",
                           "--json").stdout)
    assert again["existing"] == ["+15553330004"] and again["created"] == ["+15553330005"]
    assert run("number", "generate", "managed", "x", "1555", "1").exit_code == 1
