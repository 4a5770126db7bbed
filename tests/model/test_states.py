"""The full transition table: every (current, target) pair runs exactly the listed steps or
fails with the listed error (reference/kazoo-number-states.md §3). Pure: no database."""
import pytest

from kzcarrier.errors import Forbidden, InvalidStateTransition, NoChangeRequired
from kzcarrier.model.auth import Accounts
from kzcarrier.model.document import PhoneNumber
from kzcarrier.model.states import TRANSITIONS, Context, transition

MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))
UNRELATED = "f" * 32
ACCOUNTS = Accounts({
    MASTER: {"pvt_superduper_admin": True, "pvt_tree": []},
    RESELLER: {"pvt_tree": [MASTER], "pvt_wnm_allow_additions": True},
    CHILD: {"pvt_tree": [MASTER, RESELLER]},
    UNRELATED: {"pvt_tree": []},
})
STATES = ["discovery", "available", "reserved", "in_service", "port_in", "port_out",
          "released", "aging", "deleted"]

# (target, current) -> (resulting state, carrier acquires?) for the valid pairs, as the
# reference's table says; everything else is invalid.
EXPECTED = {
    ("reserved", "discovery"): ("reserved", True),
    ("reserved", "available"): ("reserved", False),
    ("reserved", "reserved"): ("reserved", True),
    ("reserved", "in_service"): ("reserved", False),
    ("in_service", "discovery"): ("in_service", True),
    ("in_service", "available"): ("in_service", False),
    ("in_service", "reserved"): ("in_service", False),
    ("in_service", "in_service"): ("in_service", False),
    ("in_service", "port_in"): ("in_service", False),
    ("in_service", "aging"): ("in_service", False),
    ("available", "available"): ("available", False),
    ("aging", "available"): ("aging", False),
    ("aging", "aging"): ("aging", False),
    ("aging", "released"): ("aging", False),
    ("port_in", "port_in"): ("port_in", False),
}


def number(state, module="knm_local", owner=RESELLER, history=None):
    doc = {"_id": "+15551230000", "pvt_state": state, "pvt_module_name": module,
           "pvt_created": 1, "pvt_modified": 1}
    if owner and state not in ("available", "discovery"):
        doc["pvt_assigned_to"] = owner
        doc["pvt_reserve_history"] = history if history is not None else [owner]
    return PhoneNumber.from_json(doc)


def test_the_table_is_the_reference_table():
    assert set(TRANSITIONS) == set(EXPECTED)


@pytest.mark.parametrize("target", STATES)
@pytest.mark.parametrize("current", STATES)
def test_every_pair(current, target):
    pn = number(current)
    ctx = Context(ACCOUNTS, auth_by="system", assign_to=CHILD)
    if (target, current) not in EXPECTED:
        with pytest.raises(InvalidStateTransition) as exc:
            transition(pn, target, ctx)
        if target in {t for t, _ in EXPECTED}:
            assert exc.value.cause == f"from {current} to {target}"
        else:
            assert exc.value.cause is None  # KAZOO: no cause for an unknown target
        assert pn.state == current and not pn.dirty
        return
    state, acquires = EXPECTED[(target, current)]
    out = transition(pn, target, ctx)
    assert pn.state == state and out.acquire is acquires
    if target == "available":
        assert pn.assigned_to is None
    else:
        assert pn.assigned_to == CHILD
    if target == "reserved":
        assert pn.reserve_history[0] == CHILD
    if target == "in_service" and current in ("reserved", "in_service", "port_in"):
        assert pn.reserve_history == [RESELLER]   # no push on the way to in_service


@pytest.mark.parametrize("target", ["reserved", "available", "aging", "port_in"])
def test_mdn_cannot_leave_in_service_except_by_moving(target):
    pn = number("in_service" if target != "available" else "available", module="knm_mdn")
    with pytest.raises(InvalidStateTransition) as exc:
        transition(pn, target, Context(ACCOUNTS, "system", CHILD))
    assert exc.value.cause == f"from 'MDN' to {target}"


@pytest.mark.parametrize("current", ["discovery", "available", "reserved", "port_in", "aging"])
def test_mdn_cannot_reach_in_service_cause_not_reversed(current):
    with pytest.raises(InvalidStateTransition) as exc:
        transition(number(current, module="knm_mdn"), "in_service",
                   Context(ACCOUNTS, "system", CHILD))
    assert exc.value.cause == "from 'MDN' to in_service"


def test_mdn_moves_between_accounts():
    pn = number("in_service", module="knm_mdn")
    transition(pn, "in_service", Context(ACCOUNTS, "system", MASTER))
    assert pn.assigned_to == MASTER


def test_in_service_to_same_owner_is_success_without_change():
    pn = number("in_service")
    out = transition(pn, "in_service", Context(ACCOUNTS, RESELLER, RESELLER))
    assert out.changed is False and not pn.dirty


def test_reserve_to_self_and_to_current_owner():
    with pytest.raises(Forbidden) as exc:
        transition(number("reserved"), "reserved", Context(ACCOUNTS, "system", None))
    assert exc.value.cause == "can not assign to self"
    with pytest.raises(NoChangeRequired):
        transition(number("reserved"), "reserved", Context(ACCOUNTS, "system", RESELLER))


def test_authorisation_steps():
    # anyone may buy an available number
    pn = number("available")
    transition(pn, "in_service", Context(ACCOUNTS, UNRELATED, UNRELATED))
    assert pn.assigned_to == UNRELATED
    # a descendant takes its parent's reserved number; an unrelated account may not
    pn = number("reserved")
    transition(pn, "in_service", Context(ACCOUNTS, CHILD, CHILD))
    assert pn.assigned_to == CHILD
    with pytest.raises(Forbidden):
        transition(number("reserved"), "in_service", Context(ACCOUNTS, UNRELATED, UNRELATED))
    # the owner's ancestor may reserve it elsewhere; a child may not reserve its parent's
    transition(number("in_service"), "reserved", Context(ACCOUNTS, MASTER, CHILD))
    with pytest.raises(Forbidden):
        transition(number("in_service"), "reserved", Context(ACCOUNTS, CHILD, CHILD))
    with pytest.raises(Forbidden):
        transition(number("discovery", owner=None), "in_service",
                   Context(ACCOUNTS, None, CHILD))
