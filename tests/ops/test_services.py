"""Service quantities in KAZOO's `services` documents after every change: equal to a
recount from scratch, never counted twice, right again after a crash between the number
write and the services write, and checked or fixed by `kzcarrier services verify`."""
import json

import pytest
from click.testing import CliRunner
from engine_helpers import run_once

from kzcarrier.cli.main import cli
from kzcarrier.ops.operations import Ops, Options
from kzcarrier.ops.services import MARK, Services

MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))
NEW = ["+15559871234", "+15559871235"]


def quantities(app, account):
    return app.couch.get("services", account).get("quantities") or {}


ALL = [f"account{n:025d}" for n in (1, 2, 3, 4, 9)]


@pytest.fixture
def svc(loaded):
    """The fixture world's services documents start out counted (as `services verify
    --fix` leaves a cluster kzcarrier is adopting)."""
    services = Services(loaded.couch, Ops(loaded.couch, loaded.config).rules.classify)
    for account in ALL:
        services.reconcile(account)
    return services


def test_create_move_release_keep_quantities_equal_to_a_recount(loaded, svc):
    ops = Ops(loaded.couch, loaded.config)
    before = quantities(loaded, CHILD).get("number_carriers", {}).get("knm_inventory", 0)
    ops.create(NEW, Options(auth_by=MASTER, assign_to=CHILD, module_name="knm_inventory"))
    q = quantities(loaded, CHILD)
    assert q["number_carriers"]["knm_inventory"] == before + 2
    assert q["phone_numbers"]["did_us"] >= 2
    for account in (MASTER, RESELLER, CHILD):
        assert svc.drift(account) is None, account
    # the chain above is marked for KAZOO's sync to bill and cascade
    for account in (MASTER, RESELLER, CHILD):
        assert loaded.couch.get("services", account)["pvt_dirty"] is True
    ops.move(NEW[:1], RESELLER, Options(auth_by=MASTER))
    assert quantities(loaded, CHILD)["number_carriers"]["knm_inventory"] == before + 1
    assert quantities(loaded, RESELLER)["number_carriers"]["knm_inventory"] >= 1
    ops.release(NEW, Options(auth_by=MASTER))
    assert quantities(loaded, CHILD)["number_carriers"].get("knm_inventory", 0) == before
    for account in (MASTER, RESELLER, CHILD):
        assert svc.drift(account) is None, account
    # KAZOO's other categories are left alone
    assert svc.owed() == []


def test_settling_again_counts_nothing_twice(loaded, svc):
    Ops(loaded.couch, loaded.config).create(NEW, Options(auth_by=MASTER, assign_to=CHILD,
                                                         module_name="knm_inventory"))
    doc = loaded.couch.get("services", CHILD)
    svc.settle(CHILD)
    svc.settle(CHILD)
    again = loaded.couch.get("services", CHILD)
    assert again["quantities"] == doc["quantities"] and again["_rev"] == doc["_rev"]


def test_a_crash_between_the_number_and_the_services_write_is_repaired(loaded, svc,
                                                                       monkeypatch):
    def crash(self, account):
        raise SystemExit("worker killed after the number write")

    with monkeypatch.context() as m:
        m.setattr(Services, "settle", crash)
        with pytest.raises(SystemExit):
            Ops(loaded.couch, loaded.config).create(
                NEW, Options(auth_by=MASTER, assign_to=CHILD, module_name="knm_inventory"))
    assert loaded.couch.get("numbers/+1555", NEW[0])["pvt_state"] == "in_service"
    assert svc.drift(CHILD) is not None and CHILD in svc.owed()
    run_once(loaded.couch, loaded.config)          # the sweep settles what was owed
    assert svc.drift(CHILD) is None and svc.owed() == []
    assert loaded.couch.all_docs("kzcarrier", start_key=MARK, end_key=MARK + "\ufff0") == []


def test_services_verify_reports_and_fixes_drift(loaded, svc):
    url = loaded.settings.couch_url
    Ops(loaded.couch, loaded.config).create(NEW, Options(auth_by=MASTER, assign_to=CHILD,
                                                         module_name="knm_inventory"))
    doc = loaded.couch.get("services", CHILD)
    loaded.couch.put("services", {**doc, "quantities": {**doc["quantities"],
                                                        "number_carriers": {}}})
    out = CliRunner().invoke(cli, ["--couch-url", url, "services", "verify", "--json"])
    assert out.exit_code == 1
    [drift] = json.loads(out.output)["drift"]
    assert drift["account_id"] == CHILD and drift["stored"]["number_carriers"] == {}
    out = CliRunner().invoke(cli, ["--couch-url", url, "services", "verify", "--fix"])
    assert out.exit_code == 0 and "1 drifted, fixed" in out.output
    assert svc.drift(CHILD) is None
    out = CliRunner().invoke(cli, ["--couch-url", url, "services", "verify"])
    assert out.exit_code == 0 and "0 drifted" in out.output


def test_through_the_engine_the_sweep_settles_each_account_once(loaded, svc, monkeypatch):
    from engine_helpers import request

    for num in NEW:
        request(loaded.couch, num, "create", auth_by=MASTER, assign_to=CHILD,
                module_name="knm_inventory")
    recounts = []
    original = Services.count
    monkeypatch.setattr(Services, "count",
                        lambda self, a: recounts.append(a) or original(self, a))
    run_once(loaded.couch, loaded.config)
    assert recounts == [CHILD]                   # two changes, one recount
    assert loaded.couch.get("numbers/+1555", NEW[1])["pvt_request_state"]["status"] == \
        "completed"
    assert svc.drift(CHILD) is None and svc.owed() == []
