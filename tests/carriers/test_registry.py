"""The carrier registry, carrier selection, and the DB-only carriers against the test server."""
from pathlib import Path

import pytest

from kzcarrier import carriers
from kzcarrier.carriers import CarrierContext, UnknownCarrier
from kzcarrier.carriers.selection import available_carriers, carriers_info
from kzcarrier.ops.operations import Ops, Options

MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))
PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
BUILTIN = ["knm_inventory", "knm_local", "knm_managed", "knm_mdn", "knm_reserved",
           "knm_reserved_reseller"]


@pytest.fixture
def ctx(loaded):
    return CarrierContext(couch=loaded.couch, config=loaded.config)


def test_builtins_register_through_the_entry_point_group():
    assert set(BUILTIN) <= set(carriers.available())
    assert carriers.carrier_class("local") is carriers.carrier_class("knm_local")


def test_unknown_carrier_lists_the_available_ones():
    with pytest.raises(UnknownCarrier) as exc:
        carriers.carrier_class("knm_nope")
    assert "knm_local" in str(exc.value) and exc.value.to_json()["code"] == 400


def test_third_party_package_is_discovered(monkeypatch, ctx):
    assert "knm_acme" not in carriers.available()
    monkeypatch.syspath_prepend(str(PLUGINS))
    assert "knm_acme" in carriers.available()
    acme = carriers.load("acme", ctx)
    assert acme.name == "knm_acme" and acme.info() == {"maximal_prefix_length": 6}
    assert acme.find_numbers("+1415", 2, {}) == {"+14150000000": {"acme_rate": "0.50"},
                                                  "+14150000001": {"acme_rate": "0.50"}}


def test_carrier_properties(ctx):
    local, mdn, managed = (carriers.load(n, ctx) for n in ("local", "mdn", "managed"))
    assert local.is_local() and not local.is_number_billable(None)
    assert not mdn.is_local() and mdn.info() == {"maximal_prefix_length": 0}
    assert managed.is_number_billable(None) and managed.info()["maximal_prefix_length"] == 15
    assert not carriers.load("inventory", ctx).is_local()
    ctx.config.set("number_manager.local", "debug", True)
    ctx.config.set("number_manager.local", "debug", False, node="kzc@n1")
    assert local.configuration()["debug"] is True


def test_selection_system_list_and_reseller_rule(loaded):
    cfg = loaded.config
    assert available_carriers(cfg) == ["knm_local"]
    cfg.set("number_manager", "carrier_modules", ["knm_inventory", "knm_not_installed",
                                                  "local"])
    assert available_carriers(cfg) == ["knm_inventory", "knm_local"]
    # with an account and a reseller: reserved ones and local first, then the reseller's list
    assert available_carriers(cfg, CHILD, RESELLER) == [
        "knm_reserved", "knm_reserved_reseller", "knm_local", "knm_inventory"]
    # CHILD's own configs_number_manager names knm_bandwidth2 (not installed here): the
    # rule reads the *reseller's* document, so CHILD as reseller gives its list
    assert available_carriers(cfg, CHILD, CHILD)[:3] == list(
        ("knm_reserved", "knm_reserved_reseller", "knm_local"))


def test_carriers_info_takes_the_smallest_prefix(ctx):
    info = carriers_info(ctx.config, [carriers.load("local", ctx),
                                      carriers.load("managed", ctx)])
    assert info["maximal_prefix_length"] == 10
    assert "reserved" not in info["usable_carriers"] and "local" in info["usable_carriers"]


def test_local_search_is_bounded_by_the_prefix(ctx, loaded):
    ops = Ops(loaded.couch, loaded.config)
    ops.create(["+14155550100", "+14155550101", "+14156660100"],
               Options(assign_to=MASTER, state="available"))
    local = carriers.load("local", ctx)
    assert local.find_numbers("+14155", 10, {"account_id": MASTER}) == {
        "+14155550100": {}, "+14155550101": {}}
    assert list(local.find_numbers("+14155", 1, {"account_id": MASTER, "offset": 1})) == [
        "+14155550101"]
    assert local.find_numbers("+14155", 10, {}) == {}          # needs an account
    assert local.find_numbers("+1", 10, {"account_id": MASTER}) == {}
    assert carriers.load("inventory", ctx).find_numbers("+14155", 10,
                                                        {"account_id": MASTER}) == {}


def test_reserved_search_uses_the_account_view(ctx):
    reserved = carriers.load("reserved", ctx)
    found = reserved.find_numbers("+1425", 10, {"account_id": RESELLER})
    assert "+14252151010" in found
    assert reserved.find_numbers("+1425", 10, {"account_id": CHILD}) == {}
    assert carriers.load("reserved_reseller", ctx).find_numbers(
        "+1425", 10, {"reseller_id": RESELLER}) == found


def test_managed_inventory_search_acquire_disconnect(ctx, loaded):
    couch = loaded.couch
    couch.create_db("numbers/managed")
    couch.put("numbers/managed", {"_id": "+14155550177", "pvt_module_name": "knm_managed",
                                  "pvt_state": "available", "pvt_account_id": RESELLER,
                                  "pvt_type": "number"})
    managed = carriers.load("managed", ctx)
    assert managed.find_numbers("+1415", 5, {"account_id": CHILD}) == {}
    assert managed.find_numbers("1415", 5, {"account_id": CHILD, "reseller_id": RESELLER}) == {
        "+14155550177": {}}
    couch.ensure_db("numbers/+1415")
    couch.put("numbers/+1415", {"_id": "+14155550177", "pvt_state": "discovery",
                                "pvt_module_name": "knm_managed"})
    ops = Ops(couch, loaded.config)
    ops.move(["+14155550177"], CHILD, Options())
    inv = couch.get("numbers/managed", "+14155550177")
    assert (inv["pvt_state"], inv["pvt_assigned_to"]) == ("in_service", CHILD)
    ops.release(["+14155550177"], Options())
    inv = couch.get("numbers/managed", "+14155550177")
    assert inv["pvt_state"] == "available" and "pvt_assigned_to" not in inv


def test_a_carrier_package_installed_while_running_is_found(tmp_path, monkeypatch):
    """Entry points are read once (the engine looks a carrier up per request), but a name
    not found looks again, so a package installed since is found without a restart."""
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UnknownCarrier):
        carriers.carrier_class("late")
    (tmp_path / "kzc_late_carrier.py").write_text(
        "from kzcarrier.carriers import Carrier\n\n\nclass Late(Carrier):\n    pass\n")
    info = tmp_path / "kzc_late_carrier-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kzc-late-carrier\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[kzcarrier.carriers]\n"
                                          "knm_late = kzc_late_carrier:Late\n")
    assert carriers.carrier_class("late").__name__ == "Late"
    assert "knm_late" in carriers.available()
