"""Port requests: KAZOO's transition table, who may, and completion; `number lookup`."""
import json

import pytest
from engine_helpers import acct_db

from kzcarrier.errors import NotFound
from kzcarrier.ops.model import Options
from kzcarrier.toolkit.lookup import lookup
from kzcarrier.toolkit.ports import PortRequests, PortStateTransition, UserNotAllowed

MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))
PORT = "port0000000000000000000000000001"
PORTED = "+19042471591"


def ports(app):
    return PortRequests(app.ops())


def test_the_transition_table_and_who_may(loaded):
    p = ports(loaded)
    with pytest.raises(UserNotAllowed):
        p.transition(PORT, "pending", auth_by=RESELLER)        # the port authority's move
    with pytest.raises(PortStateTransition):
        p.transition(PORT, "scheduled", auth_by=MASTER)        # not from submitted
    doc = p.transition(PORT, "pending", auth_by=MASTER, reason="looks fine")
    assert doc["pvt_port_state"] == "pending"
    first = doc["pvt_transitions"][0]
    assert first["transition"] == {"new": "pending", "previous": "submitted"}
    assert first["reason"] == "looks fine" and first["authorization"]["account"]["id"] == MASTER
    assert len(doc["pvt_transitions"]) == 2
    assert loaded.couch.get("port_requests", PORT)["pvt_port_state"] == "pending"


def test_an_account_cancels_its_own_request_only_while_unconfirmed(loaded):
    c = loaded.couch
    c.put("port_requests", {"_id": "port2", "pvt_type": "port_request",
                            "pvt_account_id": CHILD, "numbers": {"+19045550001": {}},
                            "pvt_port_authority": MASTER})
    with pytest.raises(UserNotAllowed):                     # an account outside the tree
        ports(loaded).transition("port2", "canceled", auth_by=f"account{9:025d}")
    assert ports(loaded).transition("port2", "canceled", auth_by=RESELLER)[
        "pvt_port_state"] == "canceled"                     # an ancestor of the account
    with pytest.raises(UserNotAllowed):
        ports(loaded).transition(PORT, "canceled", auth_by=RESELLER)   # submitted already


def test_completion_ports_the_numbers_in_and_fixes_used_by(loaded, run):
    c = loaded.couch
    c.put(acct_db(RESELLER), {"_id": "cf", "pvt_type": "callflow", "numbers": [PORTED]})
    # while the request is active, nobody else can create the number
    refused = loaded.ops().create([PORTED], Options(assign_to=CHILD))
    assert refused.failures[PORTED].error == "number_is_porting"
    seen = lookup(c, loaded.config, loaded.rules(), PORTED)
    assert seen["pending_port"] and seen["account_id"] == RESELLER
    assert seen["source"] == f"port_requests/{PORT}"

    ports(loaded).transition(PORT, "pending", auth_by=MASTER)
    out = run("port", "transition", PORT, "completed", "--auth-by", MASTER, "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["numbers_created"] == {PORTED: "in_service"}
    doc = c.get("numbers/+1904", PORTED)
    assert doc["pvt_state"] == "in_service" and doc["pvt_ported_in"] is True
    assert doc["pvt_assigned_to"] == RESELLER and doc["port_id"] == PORT
    assert doc["pvt_used_by"] == "callflow"
    assert c.get(acct_db(RESELLER), PORTED)["pvt_used_by"] == "callflow"
    request = c.get("port_requests", PORT)
    assert request["pvt_port_state"] == "completed"
    assert request["numbers"] == {} and PORTED in request["pvt_ported_numbers"]
    assert lookup(c, loaded.config, loaded.rules(), PORTED)["routable"] is True
    with pytest.raises(PortStateTransition):
        ports(loaded).transition(PORT, "submitted", auth_by=MASTER)


def test_a_failed_completion_leaves_the_request_where_it_was(loaded):
    c = loaded.couch
    c.put("port_requests", {"_id": "port3", "pvt_type": "port_request",
                            "pvt_account_id": RESELLER, "pvt_port_state": "pending",
                            "numbers": {"+19377038880": {}}})    # CHILD's, in service
    with pytest.raises(Exception) as err:
        ports(loaded).transition("port3", "completed")
    assert getattr(err.value, "error", None) == "transition_errors"
    assert c.get("port_requests", "port3")["pvt_port_state"] == "pending"
    assert c.get("numbers/+1937", "+19377038880")["pvt_assigned_to"] == CHILD


def test_lookup_shows_what_routing_sees(loaded, run):
    c = loaded.couch
    seen = lookup(c, loaded.config, loaded.rules(), "+15551233324")
    assert seen["account_id"] == RESELLER and seen["routable"] is True
    assert seen["module_name"] == "knm_mdn" and seen["local"] is True
    idle = lookup(c, loaded.config, loaded.rules(), "+18005551212")
    assert idle["routable"] is False and idle["reason"] == "not_in_service"
    with pytest.raises(NotFound):
        lookup(c, loaded.config, loaded.rules(), "+12125550000")
    text = run("number", "lookup", "+15551233322").stdout
    assert f"account_id: {RESELLER}" in text and "state: in_service" in text
    assert run("number", "lookup", "+12125550000").exit_code == 1


def test_a_stored_search_result_being_ported_in_is_not_bought(loaded):
    c = loaded.couch
    c.ensure_db("numbers/+1904")
    c.put("numbers/+1904", {"_id": PORTED, "pvt_type": "number", "pvt_state": "discovery",
                            "pvt_module_name": "knm_local"})
    for op in ("move", "reserve"):
        result = loaded.ops().perform(op, [PORTED], Options(assign_to=RESELLER))
        assert result.failures[PORTED].error == "number_is_porting", op
    assert c.get("numbers/+1904", PORTED)["pvt_state"] == "discovery"
