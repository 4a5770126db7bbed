"""Charges the way crossbar takes them: a change that costs money needs `accept_charges`
(else 402 with the quote), an account not in good standing may not incur it, and nothing
happens before that is settled, a carrier call included."""
import json

import pytest
from click.testing import CliRunner
from engine_helpers import db_of, request, run_once

from kzcarrier.cli.main import cli
from kzcarrier.ops.operations import Ops, Options

MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))
NEW = "+15559871234"


@pytest.fixture
def priced(loaded):
    """CHILD buys from RESELLER's plan: $1.50 a month per US DID, $3 to activate."""
    c = loaded.couch
    c.put("account/ac/co/unt0000000000000000000000002", {
        "_id": "plan_numbers", "pvt_type": "service_plan",
        "plan": {"phone_numbers": {"did_us": {"rate": 1.5, "activation_charge": 3}}}})
    services = c.get("services", CHILD)
    c.put("services", {**services, "plans": {"plan_numbers": {"vendor_id": RESELLER}}})
    return loaded


def test_create_needs_acceptance_then_goes_ahead(priced):
    ops = Ops(priced.couch, priced.config)
    opts = Options(auth_by=MASTER, assign_to=CHILD, module_name="knm_inventory")
    r = ops.create([NEW], opts)
    err = r.failures[NEW].to_json()
    assert (err["code"], err["error"], err["message"]) == (402, "accept_charges",
                                                           "accept charges")
    [invoice] = err["cause"]
    assert invoice["summary"] == {"today": 3.0, "recurring": 1.5}
    assert priced.couch.get(db_of(NEW), NEW, missing_ok=True) is None     # nothing written
    dry = ops.create([NEW], Options(**{**opts.__dict__, "dry_run": True}))
    assert dry.charges == err["cause"]                  # a dry run prices it the same way
    r = Ops(priced.couch, priced.config).create(
        [NEW], Options(**{**opts.__dict__, "accept_charges": True}))
    assert r.successes[NEW].charges == err["cause"]
    assert priced.couch.get(db_of(NEW), NEW)["pvt_state"] == "in_service"


def test_free_changes_and_switched_off_handshakes_need_no_acceptance(priced):
    ops = Ops(priced.couch, priced.config)
    # local numbers are not priced by this plan: an empty quote, no handshake
    assert not ops.create([NEW], Options(auth_by=MASTER, assign_to=CHILD)).failures
    priced.config.set("number_manager", "require_accept_charges", False)
    r = Ops(priced.couch, priced.config).create(
        ["+15559871235"], Options(auth_by=MASTER, assign_to=CHILD, module_name="knm_inventory"))
    assert r.successes["+15559871235"].charges[0]["summary"]["today"] == 3.0


def test_an_account_in_bad_standing_is_refused_before_the_carrier(priced, acme):
    c = priced.couch
    services = c.get("services", CHILD)
    c.put("services", {**services, "pvt_status": "delinquent"})
    num = "+14155550101"
    c.ensure_db(db_of(num))
    c.put(db_of(num), {"_id": num, "pvt_state": "discovery", "pvt_module_name": "knm_acme"})
    r = Ops(c, priced.config).move([num], CHILD, Options(auth_by=CHILD, accept_charges=True))
    err = r.failures[num].to_json()
    assert (err["code"], err["error"]) == (402, "service_restriction")
    assert "delinquent" in err["message"]
    assert acme.CALLS == [] and c.get(db_of(num), num)["pvt_state"] == "discovery"


def test_the_handshake_through_the_document_protocol(priced, acme):
    c = priced.couch
    num = "+14155550102"
    c.ensure_db(db_of(num))
    c.put(db_of(num), {"_id": num, "pvt_state": "discovery", "pvt_module_name": "knm_acme"})
    request(c, num, "move", assign_to=CHILD, auth_by=CHILD)
    run_once(c, priced.config)
    st = c.get(db_of(num), num)["pvt_request_state"]
    assert (st["status"], st["error"]["code"], st["error"]["error"]) == (
        "failed", 402, "accept_charges")
    assert acme.CALLS == []                                   # the carrier never asked
    quote = st["error"]["cause"]
    rid = request(c, num, "move", assign_to=CHILD, auth_by=CHILD, accept_charges=True)
    run_once(c, priced.config)
    doc = c.get(db_of(num), num)
    st = doc["pvt_request_state"]
    assert (st["id"], st["status"], doc["pvt_state"]) == (rid, "completed", "in_service")
    assert st["charges"] == quote and acme.CALLS == [("acquire", num)]


def test_the_cli_shows_the_quote_and_accepts(priced):
    url = priced.settings.couch_url
    args = ["--couch-url", url, "number", "create", NEW, "--assign-to", CHILD, "--auth-by",
            MASTER, "--module-name", "knm_inventory"]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 1 and "402 accept_charges" in out.output
    assert "today 3.0, recurring 1.5; repeat with --accept-charges" in out.output
    out = CliRunner().invoke(cli, args + ["--accept-charges", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["success"][NEW]["state"] == "in_service"
