"""`number list` / `number export`: selections read through views, in pages."""
import csv
import io
import json

import pytest

from kzcarrier.errors import KzError
from kzcarrier.toolkit.columns import COLUMNS
from kzcarrier.toolkit.scan import Scan, Selection, descendants

RESELLER, CHILD, ANNEX = (f"account{n:025d}" for n in (2, 3, 4))


def ids(app, page=1000, **sel):
    return sorted(d["_id"] for d in Scan(app.couch, Selection(**sel), page=page).docs())


def test_by_account_state_module_and_prefix(loaded):
    assert ids(loaded, accounts=(CHILD,)) == ["+19377038880"]
    assert ids(loaded, states=("port_in",)) == ["+14252151007", "+14252151009"]
    assert ids(loaded, module="knm_telnyx") == ["+14352154006", "+19162154006"]
    assert ids(loaded, module="knm_telnyx", states=("available",),
               accounts=(RESELLER,)) == ["+14352154006"]
    assert ids(loaded, prefix="+1555123") == ["+15551233322", "+15551233324",
                                              "+15551233337", "+15551239876"]
    assert ids(loaded, prefix="+1", states=("discovery",)) == ["+14082141799"]
    assert len(ids(loaded)) == 15


def test_pages_of_two_read_what_one_read_does(loaded):
    for sel in ({}, {"accounts": (RESELLER,)}, {"states": ("in_service",)},
                {"module": "knm_local"}):
        assert ids(loaded, page=2, **sel) == ids(loaded, **sel)


def test_descendants_follow_the_account_tree(loaded):
    assert sorted(descendants(loaded.couch, RESELLER)) == [RESELLER, CHILD, ANNEX]
    assert descendants(loaded.couch, CHILD) == [CHILD, ANNEX]


def test_a_bad_selection_is_a_clear_error():
    with pytest.raises(KzError, match="unknown state"):
        Selection(states=("sold",))
    with pytest.raises(KzError, match="must start with"):
        Selection(prefix="1415")


def test_views_missing_in_a_database_are_installed_on_the_way(app):
    app.couch.ensure_db("numbers/+1777")     # written by someone else: no design documents
    app.couch.put("numbers/+1777", {"_id": "+17775550000", "pvt_type": "number",
                                    "pvt_state": "available", "pvt_module_name": "knm_local"})
    assert ids(app) == ["+17775550000"]


def test_cli_list_table_json_csv(loaded, run):
    table = run("number", "list", "--account", RESELLER, "--descendants",
                "--state", "in_service")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["e164", "state", "carrier_module"]
    assert sum(1 for line in lines if "in_service" in line) == 7

    rows = json.loads(run("number", "list", "--prefix", "+1937", "--json").stdout)
    assert rows == [{**{c: "" for c in COLUMNS}, **{
        k: v for k, v in rows[0].items() if v}}]
    assert rows[0]["e164"] == "+19377038880"
    assert rows[0]["account_name"] == "Cedar Clinic"
    assert rows[0]["used_by"] == "trunkstore"
    assert rows[0]["carrier_module"] == "knm_bandwidth2"

    out = run("number", "list", "--module", "knm_mdn", "--format", "csv").stdout
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert [r["e164"] for r in parsed] == ["+15551233324"]
    assert list(parsed[0]) == list(COLUMNS)

    limited = json.loads(run("number", "list", "--json", "--limit", "3").stdout)
    assert len(limited) == 3


def test_cli_export_writes_kazoo_columns(loaded, run, tmp_path):
    out = tmp_path / "numbers.csv"
    result = run("number", "export", "--state", "available", "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sorted(r["e164"] for r in rows) == ["+14352154006", "+15551239876",
                                               "+18005551212", "+19162154006"]
    assert all(r["state"] == "available" for r in rows)
    assert "4 numbers written" in result.output


def test_generated_numbers_list_completely_in_pages(app, run):
    """3,000 generated numbers over three databases, read in pages of 1,000: every one
    listed once (the 100k figure is scripts/bench_toolkit.py's)."""
    for npa in ("+1212", "+1213", "+1214"):
        db = f"numbers/{npa}"
        app.couch.ensure_db(db)
        app.couch.bulk_save(db, [{"_id": f"{npa}555{i:04d}", "pvt_type": "number",
                                  "pvt_state": "in_service" if i % 2 else "available",
                                  "pvt_module_name": "knm_local"} for i in range(1000)])
    rows = json.loads(run("number", "list", "--json").stdout)
    assert len(rows) == len({r["e164"] for r in rows}) == 3000
    half = json.loads(run("number", "list", "--json", "--state", "in_service").stdout)
    assert len(half) == 1500
