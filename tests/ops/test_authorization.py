"""Who may put numbers where: no account reaches outside its tree through any operation
(the review's reproductions turned around), and KAZOO's flags read as KAZOO reads them."""
import pytest

from kzcarrier.model.auth import Accounts, allowed_creation_states, is_true
from kzcarrier.model.config import Config
from kzcarrier.model.document import PhoneNumber
from kzcarrier.ops.operations import Ops, Options

MASTER, RESELLER, CHILD, GRANDCHILD = (f"account{n:025d}" for n in (1, 2, 3, 4))
SIBLING = f"account{9:025d}"                     # under MASTER, beside RESELLER
UNRELATED = "b113394f16cb71b113394f16cb71abcd"   # no such account
AVAILABLE = "+15551239876"


@pytest.fixture
def ops(loaded):
    return Ops(loaded.couch, loaded.config)


def doc(app, num):
    return app.couch.get(f"numbers/{num[:5]}", num, missing_ok=True)


@pytest.mark.parametrize("auth_by,assign_to,extra", [
    (RESELLER, SIBLING, {}),                              # additions allowed, wrong tree
    (RESELLER, UNRELATED, {}),
    (RESELLER, SIBLING, {"state": "reserved"}),
    (CHILD, SIBLING, {"state": "port_in"}),               # port_in needs no additions
    (CHILD, UNRELATED, {"ported_in": True}),
    (CHILD, RESELLER, {"state": "port_in"}),              # up the tree is outside it too
])
def test_create_never_lands_outside_the_creators_tree(ops, loaded, auth_by, assign_to, extra):
    num = "+15559870001"
    r = ops.create([num], Options(auth_by=auth_by, assign_to=assign_to, **extra))
    err = r.failures[num].to_json()
    assert (err["code"], err["error"]) == (403, "forbidden")
    assert doc(loaded, num) is None                      # nothing written


def test_create_inside_the_tree_and_by_an_admin_anywhere(ops, loaded):
    r = ops.create(["+15559870002"], Options(auth_by=RESELLER, assign_to=GRANDCHILD))
    assert r.successes["+15559870002"].assigned_to == GRANDCHILD
    r = ops.create(["+15559870003"], Options(auth_by=CHILD, assign_to=CHILD, state="port_in"))
    assert r.successes["+15559870003"].to_state == "port_in"
    r = ops.create(["+15559870004"], Options(auth_by=MASTER, assign_to=SIBLING))
    assert doc(loaded, "+15559870004")["pvt_assigned_to"] == SIBLING


@pytest.mark.parametrize("operation", ["move", "reserve"])
def test_taking_an_available_number_only_into_ones_own_tree(ops, loaded, operation):
    """Anyone may take an available number (KAZOO), but only for itself or below."""
    r = ops.perform(operation, [AVAILABLE], Options(auth_by=RESELLER, assign_to=SIBLING))
    assert r.failures[AVAILABLE].to_json()["error"] == "forbidden"
    assert doc(loaded, AVAILABLE)["pvt_state"] == "available"
    r = ops.perform(operation, [AVAILABLE], Options(auth_by=RESELLER, assign_to=CHILD))
    assert r.successes[AVAILABLE].assigned_to == CHILD


def test_transition_with_an_owner_outside_the_tree_is_refused(ops, loaded):
    r = ops.transition([AVAILABLE], Options(auth_by=CHILD, assign_to=SIBLING,
                                            state="in_service"))
    assert r.failures[AVAILABLE].to_json()["error"] == "forbidden"
    assert doc(loaded, AVAILABLE)["pvt_state"] == "available"


def test_a_child_updates_a_number_its_parent_reserved(ops, loaded):
    """KAZOO's read rule lets a descendant at a number reserved above it; update and move
    agree (the review found update refusing it)."""
    num = "+15559870020"
    ops.create([num], Options(auth_by=MASTER, assign_to=RESELLER, state="reserved"))
    r = ops.update([num], Options(auth_by=CHILD, public_fields={"label": "lobby"}))
    assert not r.failures and doc(loaded, num)["label"] == "lobby"
    assert doc(loaded, num)["pvt_assigned_to"] == RESELLER            # still the parent's
    r = ops.update([num], Options(auth_by=SIBLING, public_fields={"label": "x"}))
    assert r.failures[num].to_json()["error"] == "forbidden"
    r = ops.move([num], CHILD, Options(auth_by=CHILD))
    assert r.successes[num].assigned_to == CHILD


def test_update_replaces_or_merges(ops, loaded):
    num = "+15559870021"
    ops.create([num], Options(auth_by=MASTER, assign_to=RESELLER,
                              public_fields={"label": "a", "desk": {"floor": 2, "room": 7}}))
    ops.update([num], Options(public_fields={"desk": {"room": 9}}, merge=True))
    stored = doc(loaded, num)
    assert stored["label"] == "a"
    assert stored["desk"] == {"floor": 2, "room": 9}
    ops.update([num], Options(public_fields={"label": None}, merge=True))
    assert "label" not in doc(loaded, num)
    ops.update([num], Options(public_fields={"label": "b"}))          # POST: replaces
    stored = doc(loaded, num)
    assert stored["label"] == "b" and "desk" not in stored


def test_a_stored_search_result_does_not_block_create(ops, loaded):
    """KAZOO keeps search results in memory, so creating such a number creates it; here
    they are `discovery` documents, and create builds the number over one."""
    num = "+15559870030"
    found = PhoneNumber.new(num, "discovery", "knm_telnyx")
    found.carrier_data = {"number_e164": num}
    loaded.couch.ensure_db(f"numbers/{num[:5]}")
    loaded.couch.bulk_save(f"numbers/{num[:5]}", [found.to_json()])
    r = ops.create([num], Options(auth_by=MASTER, assign_to=RESELLER))
    assert r.successes[num].to_state == "in_service"
    stored = doc(loaded, num)
    assert (stored["pvt_state"], stored["pvt_module_name"]) == ("in_service", "knm_local")
    assert "pvt_carrier_data" not in stored            # nothing of the search result kept
    r = ops.create([num], Options(auth_by=MASTER, assign_to=RESELLER))
    assert r.failures[num].to_json()["error"] == "number_exists"


def test_hard_delete_of_an_mdn_needs_no_mdn_run(ops, loaded):
    mdn = "+15551233324"
    r = ops.delete([mdn], Options(auth_by=MASTER))
    assert r.successes[mdn].deleted and doc(loaded, mdn) is None
    # saves keep the rule: an MDN changed without mdn_run is refused
    r = ops.create(["+15559870040"], Options(auth_by=MASTER, assign_to=RESELLER,
                                             module_name="knm_mdn"))
    assert r.failures["+15559870040"].to_json()["error"] == "forbidden"


def test_flags_are_true_only_when_kazoo_says_true():
    assert is_true(True) and is_true("true")
    for value in (False, "false", "False", "yes", 1, "1", None, {}, []):
        assert not is_true(value)
    accounts = Accounts({"a": {"pvt_superduper_admin": "false",
                               "pvt_wnm_allow_additions": "false"},
                         "b": {"pvt_superduper_admin": "true"}})
    assert not accounts.is_admin("a") and not accounts.allows_additions("a")
    assert accounts.is_admin("b")
    assert allowed_creation_states(accounts, "a") == ()


def test_the_string_false_grants_nothing(loaded):
    acct = loaded.couch.get("accounts", SIBLING)
    loaded.couch.put("accounts", {**acct, "pvt_superduper_admin": "false",
                                   "pvt_wnm_allow_additions": "false"})
    db = f"account/{SIBLING[:2]}/{SIBLING[2:4]}/{SIBLING[4:]}"
    own = loaded.couch.get(db, SIBLING, missing_ok=True)
    if own:
        loaded.couch.put(db, {**own, "pvt_superduper_admin": "false",
                               "pvt_wnm_allow_additions": "false"})
    ops = Ops(loaded.couch, Config(loaded.couch))
    r = ops.create(["+15559870050"], Options(auth_by=SIBLING, assign_to=SIBLING))
    assert r.failures["+15559870050"].to_json()["error"] == "forbidden"
    r = ops.delete([AVAILABLE], Options(auth_by=SIBLING))
    assert r.failures[AVAILABLE].to_json()["error"] == "forbidden"


def test_through_the_document_protocol_the_request_fails_403(loaded):
    from engine_helpers import db_of, request, run_once

    num = "+15559870060"
    rid = request(loaded.couch, num, "create", auth_by=RESELLER, assign_to=SIBLING)
    run_once(loaded.couch, loaded.config)
    stored = loaded.couch.get(db_of(num), num)
    st = stored["pvt_request_state"]
    assert (st["id"], st["status"], st["error"]["code"], st["error"]["error"]) == (
        rid, "failed", 403, "forbidden")
    assert "pvt_state" not in stored                     # no number came into being
