"""The maintenance repairs: each reports, a dry run writes nothing, a second run finds
nothing left to do."""
import json

from engine_helpers import acct_db

from kzcarrier.ops.services import Services
from kzcarrier.toolkit.repair import Repairs

RESELLER, CHILD = (f"account{n:025d}" for n in (2, 3))
R_DB = acct_db(RESELLER)


def repairs(app):
    return Repairs(app.couch, app.store(), Services(app.couch, app.rules().classify))


def test_copies_follow_the_number_databases(loaded):
    c = loaded.couch
    copy = c.get(R_DB, "+15551233322")
    c.put(R_DB, {**copy, "pvt_used_by": "stale"})
    c.put("numbers/+1435", {**c.get("numbers/+1435", "+14352154006")})   # unchanged number
    before = {r["id"] for r in c.all_docs(R_DB, include_docs=False)}

    dry = repairs(loaded).copy_number_dbs_to_accounts([RESELLER], dry_run=True)
    assert "+15551233322" in dry.changed
    assert c.get(R_DB, "+15551233322")["pvt_used_by"] == "stale"
    assert {r["id"] for r in c.all_docs(R_DB, include_docs=False)} == before

    done = repairs(loaded).copy_number_dbs_to_accounts([RESELLER])
    assert done.changed.keys() == dry.changed.keys()
    assert done.failed == {}
    for num in done.changed:
        body = {k: v for k, v in c.get(f"numbers/{num[:5]}", num).items() if k != "_rev"}
        assert {k: v for k, v in c.get(R_DB, num).items() if k != "_rev"} == body
    assert repairs(loaded).copy_number_dbs_to_accounts([RESELLER]).changed == {}


def test_an_owner_without_an_account_database_is_reported(loaded):
    c = loaded.couch
    gone = f"account{77:025d}"
    doc = c.get("numbers/+1800", "+18005551212")
    c.put("numbers/+1800", {**doc, "pvt_assigned_to": gone})
    report = repairs(loaded).copy_number_dbs_to_accounts([gone])
    assert report.failed == {"+18005551212": f"account database of {gone} not found"}


def test_copies_of_numbers_owned_elsewhere_are_removed(loaded):
    c = loaded.couch
    stray = dict(c.get(R_DB, "+15551255693"))
    stray.pop("_rev")
    c.put(acct_db(CHILD), stray)
    dry = repairs(loaded).remove_wrong_assigned_from_accounts([CHILD], dry_run=True)
    assert dry.changed == {"+15551255693": f"copy removed from {CHILD} (owner {RESELLER})"}
    assert c.get(acct_db(CHILD), "+15551255693") is not None
    repairs(loaded).remove_wrong_assigned_from_accounts()
    assert c.get(acct_db(CHILD), "+15551255693", missing_ok=True) is None
    assert c.get(acct_db(CHILD), "+19377038880") is not None        # its own stays
    assert c.get(R_DB, "+15551255693") is not None


def test_used_by_follows_callflows_and_trunkstore(loaded):
    c = loaded.couch
    c.put(R_DB, {"_id": "cf1", "pvt_type": "callflow", "numbers": ["+15551233322",
                                                                   "+15551233324", "1000"]})
    c.put(R_DB, {"_id": "ts1", "pvt_type": "sys_info", "servers": [
        {"DIDs": {"+15551233337": {}, "+15551233322": {}}}]})
    report = repairs(loaded).fix_apps([RESELLER])
    assert report.changed == {"+15551233324": "used_by - -> callflow",
                              "+15551233337": "used_by callflow -> trunkstore",
                              "+15551255693": "used_by callflow -> -"}
    n = lambda num: c.get("numbers/+1555", num)   # noqa: E731
    assert n("+15551233322")["pvt_used_by"] == "callflow"       # in both: left alone
    assert n("+15551233324")["pvt_used_by"] == "callflow"
    assert n("+15551233337")["pvt_used_by"] == "trunkstore"
    assert "pvt_used_by" not in n("+15551255693")
    assert c.get(R_DB, "+15551233337")["pvt_used_by"] == "trunkstore"   # copy follows
    assert repairs(loaded).fix_apps([RESELLER]).changed == {}


def test_purges(loaded, run):
    c = loaded.couch
    c.put("numbers/+1555", {"_id": "+15550000001", "pvt_type": "number",
                            "pvt_state": "deleted", "pvt_module_name": "knm_local"})
    out = run("repair", "purge-discovery", "--dry-run", "--json")
    assert json.loads(out.stdout)[0]["changed"] == {"+14082141799": "deleted"}
    assert c.get("numbers/+1408", "+14082141799") is not None
    assert run("repair", "purge-discovery").exit_code == 0
    assert c.get("numbers/+1408", "+14082141799", missing_ok=True) is None
    assert run("repair", "purge-deleted").exit_code == 0
    assert c.get("numbers/+1555", "+15550000001", missing_ok=True) is None


def test_fix_account_db_numbers_runs_every_step(loaded, run):
    c = loaded.couch
    stray = dict(c.get(R_DB, "+15551255693"))
    stray.pop("_rev")
    c.put(acct_db(CHILD), stray)
    out = run("repair", "fix-account-db-numbers", CHILD, "--json")
    assert out.exit_code == 0, out.output
    steps = {r["step"]: r for r in json.loads(out.stdout)}
    assert list(steps) == ["fix_apps_for_account", "copy_number_dbs_to_accounts",
                           "remove_wrong_assigned_from_accounts", "reconcile_services"]
    assert "+15551255693" in steps["remove_wrong_assigned_from_accounts"]["changed"]
    # the child's in-service number is now counted in its services document
    assert CHILD in steps["reconcile_services"]["changed"]
    assert c.get("services", CHILD)["quantities"]["number_carriers"] == {"knm_bandwidth2": 1}
    again = json.loads(run("repair", "fix-account-db-numbers", CHILD, "--json").stdout)
    assert all(not r["changed"] for r in again)
