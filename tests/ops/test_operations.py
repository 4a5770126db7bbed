"""Operations over collections against the fixture databases in the test server
(reference/kazoo-tests-catalogue.md §6-§10)."""
from pathlib import Path

import httpx
import pytest

from kzcarrier.ops.operations import Ops, Options, active_ports

MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))
UNRELATED = "b113394f16cb71b113394f16cb71abcd"
NOT_NUM = "NOT a number"
CREATE = "+15559871234"
AVAILABLE = "+15551239876"
IN_SERVICE = "+15551233322"
MDN = "+15551233324"
BAD_CARRIER = "+15551233337"
WITH_HISTORY = "+15551255693"
RESERVED = "+14252151010"
PORT_IN = "+14252151007"
TELNYX_AVAILABLE = "+14352154006"
NON_LOCAL_AVAILABLE = "+19162154006"
PORTING = "+19042471591"
PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


@pytest.fixture
def ops(loaded):
    return Ops(loaded.couch, loaded.config)


def doc(app, num):
    return app.couch.get(f"numbers/{num[:5]}", num, missing_ok=True)


def acct_copy(app, account, num):
    db = f"account/{account[:2]}/{account[2:4]}/{account[4:]}"
    return app.couch.get(db, num, missing_ok=True)


def test_get_collapses_duplicates_and_reports_kazoo_failures(ops):
    r = ops.get([AVAILABLE, NOT_NUM, AVAILABLE, NOT_NUM, CREATE])
    assert list(r.successes) == [AVAILABLE]
    assert r.failures[NOT_NUM].error == "not_reconcilable"
    assert r.failures[CREATE].error == "not_found"
    r = ops.get(["4156301234"])
    assert r.failures["+14156301234"].error == "not_found"  # normalised in the failure


def test_create_new_number_in_service_with_account_copy(ops, loaded):
    r = ops.create([CREATE], Options(auth_by=MASTER, assign_to=RESELLER))
    out = r.successes[CREATE]
    assert (out.to_state, out.assigned_to, out.module_name) == ("in_service", RESELLER,
                                                                "knm_local")
    stored = doc(loaded, CREATE)
    assert stored["pvt_state"] == "in_service" and stored.get("pvt_reserve_history") is None
    assert stored["pvt_db_name"] == "numbers%2F%2B1555" and isinstance(stored["pvt_created"], int)
    assert stored["pvt_features"] == {"local": {}}
    copy = acct_copy(loaded, RESELLER, CREATE)
    assert {k: v for k, v in copy.items() if k != "_rev"} == \
        {k: v for k, v in stored.items() if k != "_rev"}


def test_create_variants(ops, loaded):
    r = ops.create([CREATE], Options(auth_by=MASTER, assign_to=MASTER, state="available"))
    assert r.successes[CREATE].to_state == "available"
    assert "pvt_assigned_to" not in doc(loaded, CREATE)
    r = ops.create([AVAILABLE], Options(auth_by=MASTER, assign_to=RESELLER))
    assert r.successes[AVAILABLE].to_state == "in_service"
    assert doc(loaded, AVAILABLE)["pvt_assigned_to"] == RESELLER
    assert doc(loaded, AVAILABLE)["label"] == "front desk"  # no public_fields: kept
    r = ops.create(["+15559871235"], Options(auth_by=MASTER, assign_to=RESELLER,
                                              state="reserved"))
    assert doc(loaded, "+15559871235")["pvt_reserve_history"] == [RESELLER]
    r = ops.create(["+19042471592"], Options(auth_by=CHILD, assign_to=CHILD, state="port_in"))
    stored = doc(loaded, "+19042471592")
    assert stored["pvt_state"] == "port_in" and stored["pvt_ported_in"] is False


def test_create_refusals(ops, loaded):
    r = ops.create([IN_SERVICE], Options(assign_to=RESELLER))
    assert r.failures[IN_SERVICE].to_json() == {
        "code": 409, "error": "number_exists", "cause": IN_SERVICE,
        "message": f"number {IN_SERVICE} already exists"}
    r = ops.create([CREATE], Options(auth_by=CHILD, assign_to=CHILD))   # no additions flag
    assert r.failures[CREATE].error == "forbidden"
    r = ops.create([CREATE], Options(auth_by=None, assign_to=CHILD))
    assert r.failures[CREATE].code == 403
    r = ops.create([CREATE], Options(auth_by=MASTER))
    assert r.failures[CREATE].to_json()["cause"] == "field_undefined"
    r = ops.create([PORTING], Options(auth_by=MASTER, assign_to=RESELLER))
    assert r.failures[PORTING].to_json() == {
        "code": 400, "error": "number_is_porting", "cause": PORTING,
        "message": f"number {PORTING} is porting"}
    r = ops.create([TELNYX_AVAILABLE, NOT_NUM, CREATE], Options(auth_by=MASTER,
                                                                 assign_to=RESELLER))
    assert set(r.successes) == {TELNYX_AVAILABLE, CREATE}
    assert r.failures[NOT_NUM].error == "not_reconcilable"
    assert doc(loaded, "+15559871299") is None


def test_a_port_check_reads_the_view_alone_and_installs_it_again_once_removed(
        loaded, monkeypatch):
    """A purchase checks port requests twice (its plan, then its run), and each check
    read the design document too: 2 of a purchase's 13 requests. It is checked once per
    process now; removed since, it is installed again and the check still answers."""
    from engine_helpers import count_requests

    c = loaded.couch
    assert set(active_ports(c, [PORTING, AVAILABLE])) == {PORTING}   # checked here
    seen = count_requests(c, monkeypatch)
    assert set(active_ports(c, [PORTING, AVAILABLE])) == {PORTING}
    assert list(seen) == ["view port_requests/port_in_numbers of port_requests"]
    ddoc = c.get("port_requests", "_design/port_requests")
    httpx.delete(f"{c.url}/port_requests/_design/port_requests",
                 params={"rev": ddoc["_rev"]}).raise_for_status()
    assert set(active_ports(c, [PORTING])) == {PORTING}
    assert c.get("port_requests", "_design/port_requests")["views"]["port_in_numbers"]


def test_move_to_child_and_public_fields(ops, loaded):
    r = ops.move([NOT_NUM, AVAILABLE], CHILD, Options(public_fields={"a": "bla", "my_key": 42}))
    assert r.failures[NOT_NUM].error == "not_reconcilable"
    stored = doc(loaded, AVAILABLE)
    assert (stored["pvt_state"], stored["pvt_assigned_to"]) == ("in_service", CHILD)
    assert stored["my_key"] == 42 and stored["a"] == "bla"
    assert stored["pvt_previously_assigned_to"] == RESELLER
    assert acct_copy(loaded, CHILD, AVAILABLE)["pvt_state"] == "in_service"


def test_descendant_takes_parents_reserved_number_unrelated_cannot(ops, loaded):
    assert acct_copy(loaded, RESELLER, RESERVED) is not None
    r = ops.move([RESERVED], UNRELATED, Options(auth_by=UNRELATED))
    assert r.failures[RESERVED].error == "forbidden"
    r = ops.move([RESERVED], CHILD, Options(auth_by=CHILD))
    assert r.successes[RESERVED].to_state == "in_service"
    assert doc(loaded, RESERVED)["pvt_assigned_to"] == CHILD
    assert acct_copy(loaded, RESELLER, RESERVED) is None       # removed from the old owner
    assert acct_copy(loaded, CHILD, RESERVED) is not None


def test_move_available_non_local_calls_no_carrier(ops, loaded):
    r = ops.move([NON_LOCAL_AVAILABLE], CHILD, Options(auth_by=CHILD))
    out = r.successes[NON_LOCAL_AVAILABLE]
    assert out.to_state == "in_service" and out.carrier_action is None
    assert doc(loaded, NON_LOCAL_AVAILABLE)["pvt_module_name"] == "knm_telnyx"


def test_reserve(ops, loaded):
    r = ops.reserve([NOT_NUM, AVAILABLE], Options(assign_to=RESELLER, auth_by=MASTER))
    assert doc(loaded, AVAILABLE)["pvt_reserve_history"] == [RESELLER]
    r = ops.reserve([IN_SERVICE], Options())
    assert r.failures[IN_SERVICE].to_json() == {
        "code": 400, "error": "assign_failure", "cause": "field_undefined",
        "message": "invalid account to assign to"}
    ops.reserve([IN_SERVICE], Options(assign_to=RESELLER))
    assert doc(loaded, IN_SERVICE)["pvt_reserve_history"] == [RESELLER]
    ops.reserve([WITH_HISTORY], Options(assign_to=CHILD))
    assert doc(loaded, WITH_HISTORY)["pvt_reserve_history"] == [CHILD, RESELLER, MASTER]
    r = ops.reserve([RESERVED], Options(assign_to=RESELLER))
    assert r.failures[RESERVED].error == "no_change_required"


def test_release_rules(ops, loaded):
    r = ops.release([CREATE, AVAILABLE, TELNYX_AVAILABLE, BAD_CARRIER, IN_SERVICE,
                     WITH_HISTORY], Options())
    assert r.failures[CREATE].error == "not_found"
    assert r.failures[TELNYX_AVAILABLE].to_json()["cause"] == "from available to available"
    # local numbers are hard-deleted, wherever they are
    assert r.successes[AVAILABLE].deleted and doc(loaded, AVAILABLE) is None
    assert r.successes[IN_SERVICE].deleted and doc(loaded, IN_SERVICE) is None
    assert acct_copy(loaded, RESELLER, IN_SERVICE) is None
    # a missing carrier module is tolerated; non-local goes back to the pool
    bad = doc(loaded, BAD_CARRIER)
    assert bad["pvt_state"] == "available" and "pvt_assigned_to" not in bad
    assert bad.get("pvt_reserve_history", []) == []
    assert acct_copy(loaded, RESELLER, BAD_CARRIER) is None
    # a deeper history unwinds to the previous reserver, no carrier
    hist = doc(loaded, WITH_HISTORY)
    assert (hist["pvt_state"], hist["pvt_assigned_to"], hist["pvt_reserve_history"]) == (
        "reserved", MASTER, [MASTER])
    assert acct_copy(loaded, MASTER, WITH_HISTORY) is not None
    assert acct_copy(loaded, RESELLER, WITH_HISTORY) is None


@pytest.fixture
def vitelity(loaded):
    """+18122154006 is a knm_vitelity number: its release goes to a simulated Vitelity."""
    from kzcarrier.simulators.vitelity import VitelitySimulator

    sim = VitelitySimulator().start()
    sim.sold["+18122154006"] = {}
    for key, value in (("api_uri", f"{sim.url}/api.php"), ("login", sim.login),
                       ("pass", sim.password)):
        loaded.config.set("number_manager.vitelity", key, value)
    yield sim
    sim.stop()


def test_release_resets_features_and_public_fields(ops, loaded, vitelity):
    r = ops.release(["+18122154006"], Options())   # vitelity, cnam + prepend
    assert r.successes["+18122154006"].to_state == "deleted"
    # its owner's CNAM provider (Telnyx, not configured here) could not be told: the
    # release is not held back by it (the number is gone at Vitelity), the outcome says so
    assert "not configured" in str(r.successes["+18122154006"].features_error)
    assert vitelity.record.releases == [{"number": "+18122154006"}]
    # given back to Vitelity: no longer ours, so deleted; the tombstone keeps no features
    assert doc(loaded, "+18122154006") is None
    stored = loaded.couch.last_revision("numbers/+1812", "+18122154006")
    assert stored["_deleted"]
    assert "pvt_features" not in stored and "cnam" not in stored and "prepend" not in stored


def test_release_options_age_and_permanent_delete(ops, loaded, vitelity):
    loaded.config.set("number_manager", "should_age", True)
    ops.release([BAD_CARRIER], Options())
    assert doc(loaded, BAD_CARRIER)["pvt_state"] == "aging"
    loaded.config.set("number_manager", "should_permanently_delete", True)
    ops.release(["+18122154006"], Options())
    assert doc(loaded, "+18122154006") is None


def test_mdn_rules(ops, loaded):
    r = ops.release([MDN], Options(auth_by=MASTER))
    assert r.failures[MDN].error == "forbidden"          # not an MDN run
    r = ops.release([MDN], Options(auth_by=MASTER, mdn_run=True))
    assert r.successes[MDN].deleted
    r = ops.create([CREATE], Options(auth_by=MASTER, assign_to=RESELLER, module_name="knm_mdn",
                                     mdn_run=True, public_fields={"mobile": {"x": 1}},
                                     state="available"))
    stored = doc(loaded, CREATE)
    assert (stored["pvt_state"], stored["pvt_module_name"]) == ("in_service", "knm_mdn")
    assert stored["mobile"] == {"x": 1} and stored["pvt_features"] == {"local": {}}


def test_delete_is_for_admins(ops, loaded):
    r = ops.delete([NOT_NUM, IN_SERVICE], Options(auth_by=RESELLER))
    assert r.failures[IN_SERVICE].error == "forbidden" and doc(loaded, IN_SERVICE)
    r = ops.delete([NOT_NUM, IN_SERVICE], Options(auth_by=MASTER))
    assert r.successes[IN_SERVICE].deleted and doc(loaded, IN_SERVICE) is None
    assert acct_copy(loaded, RESELLER, IN_SERVICE) is None


def test_update_and_assign_to_app(ops, loaded):
    r = ops.update([NOT_NUM, AVAILABLE], Options())
    assert r.successes[AVAILABLE].changed is False
    ops.update([AVAILABLE], Options(ported_in=True))
    assert doc(loaded, AVAILABLE)["pvt_ported_in"] is True
    ops.assign_to_app([IN_SERVICE], "my_app", Options())
    assert doc(loaded, IN_SERVICE)["pvt_used_by"] == "my_app"
    assert acct_copy(loaded, RESELLER, IN_SERVICE)["pvt_used_by"] == "my_app"


def test_third_party_carrier_is_used_for_move_without_editing_kzcarrier(ops, loaded, acme):
    num = "+14155550123"
    loaded.couch.ensure_db("numbers/+1415")
    loaded.couch.put("numbers/+1415", {"_id": num, "pvt_state": "discovery",
                                       "pvt_module_name": "knm_acme",
                                       "pvt_carrier_data": {"acme_rate": "0.50"}})
    r = ops.move([num], RESELLER, Options(auth_by=RESELLER))
    assert r.successes[num].carrier_action == "acquire"
    assert acme.CALLS == [("acquire", num)]
    stored = doc(loaded, num)
    assert stored["pvt_state"] == "in_service"
    assert stored["pvt_carrier_data"] == {"acme_rate": "0.50", "acme_order": f"order-{num}",
                                          "reference": None}
    # the carrier's failure is KAZOO's by_carrier error, with the carrier's own reason kept
    acme.FAIL.add("+14155550124")
    loaded.couch.put("numbers/+1415", {"_id": "+14155550124", "pvt_state": "discovery",
                                       "pvt_module_name": "knm_acme"})
    r = ops.move(["+14155550124"], RESELLER, Options())
    assert r.failures["+14155550124"].to_json() == {
        "code": 500, "error": "unspecified_fault", "message": "fault by carrier",
        "cause": "+14155550124", "carrier": "knm_acme",
        "carrier_reason": "acme says no: out of stock"}
    assert doc(loaded, "+14155550124")["pvt_state"] == "discovery"


def snapshot(app):
    out = {}
    for db in app.couch.all_dbs():
        if db.startswith("_"):
            continue
        out[db] = {r["id"]: r["doc"] for r in app.couch.all_docs(db)}
        out[db]["_local/checkpoint"] = app.couch.get_local(db, "checkpoint")
    return out


def test_dry_run_of_every_operation_changes_nothing_and_calls_no_carrier(ops, loaded, acme):
    loaded.couch.put("numbers/+1555", {"_id": "+15551230001", "pvt_state": "discovery",
                                       "pvt_module_name": "knm_acme"})
    acme_in_service = "+15551230002"
    loaded.couch.put("numbers/+1555", {"_id": acme_in_service, "pvt_state": "in_service",
                                       "pvt_module_name": "knm_acme",
                                       "pvt_assigned_to": RESELLER,
                                       "pvt_reserve_history": [RESELLER]})
    before = snapshot(loaded)
    dry = Options(dry_run=True, auth_by=MASTER)
    results = [
        ops.create([CREATE, AVAILABLE], Options(dry_run=True, auth_by=MASTER, assign_to=CHILD)),
        ops.move(["+15551230001", AVAILABLE, RESERVED], CHILD, dry),
        ops.reserve([AVAILABLE, IN_SERVICE], Options(dry_run=True, assign_to=CHILD)),
        ops.release([IN_SERVICE, WITH_HISTORY, BAD_CARRIER, acme_in_service], dry),
        ops.delete([IN_SERVICE], dry),
        ops.update([AVAILABLE], Options(dry_run=True, public_fields={"x": 1})),
        ops.assign_to_app([IN_SERVICE], "app", dry),
        ops.transition([AVAILABLE], Options(dry_run=True, state="aging")),
    ]
    assert snapshot(loaded) == before
    assert acme.CALLS == []
    for r in results:
        assert r.successes, r.to_json()
        assert r.to_json()["dry_run"] is True
    move = results[1].successes["+15551230001"]
    assert (move.to_state, move.carrier_action) == ("in_service", "acquire")
    release = results[3].successes[acme_in_service]
    assert release.carrier_action == "disconnect" and release.to_state == "deleted"
    assert results[3].successes[IN_SERVICE].deleted


def test_dry_run_quotes_charges_from_service_plans(ops, loaded):
    r = ops.create([CREATE], Options(dry_run=True, auth_by=MASTER, assign_to=CHILD,
                                     module_name="knm_inventory"))
    assert r.charges == []            # no plan applies to the fixture accounts
    loaded.couch.put("account/ac/co/unt0000000000000000000000002", {
        "_id": "plan_numbers", "pvt_type": "service_plan",
        "plan": {"phone_numbers": {"did_us": {"rate": 1.5, "activation_charge": 3}},
                 "number_carriers": {"_all": {"rate": 0.25}}}})
    services = loaded.couch.get("services", CHILD)
    loaded.couch.put("services", {**services, "plans": {"plan_numbers": {
        "vendor_id": RESELLER}}})
    r = ops.create([CREATE, "+15559871235"], Options(dry_run=True, auth_by=MASTER,
                                                     assign_to=CHILD, module_name="knm_inventory"))
    [invoice] = r.charges
    assert invoice["account_id"] == CHILD and invoice["plan"] == ["plan_numbers"]
    items = {(i["category"], i["item"]): i for i in invoice["items"]}
    assert items[("phone_numbers", "did_us")]["total"] == 3.0
    assert items[("number_carriers", "knm_inventory")]["quantity"] == 2
    assert invoice["activation_charges"][0]["total"] == 6.0
    assert invoice["summary"] == {"today": 6.0, "recurring": 3.5}
    # local numbers are not phone_numbers items
    r = ops.create([CREATE], Options(dry_run=True, auth_by=MASTER, assign_to=CHILD))
    assert {i["category"] for i in r.charges[0]["items"]} == {"number_carriers"}
