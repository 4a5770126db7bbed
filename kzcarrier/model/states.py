"""KAZOO's number state machine as data (`knm_states`, reference §3). Pure: no I/O.

`TRANSITIONS[(target, current)]` lists the steps that run, left to right; a pair that is
not in the table is an invalid transition. `transition()` runs the steps on a number and
says whether the carrier must be asked to buy it (ACQUIRE): the caller does that call, so
this module never talks to anyone.

Steps:
    MDN       fail if the number is an MDN (`fail_if_mdn`)
    SELF      assign_to must be given and differ from the owner (`not_assigning_to_self`)
    AUTH      `is_authorized`, else 403
    AUTH_SUB  `is_authorized` or `is_reserved_from_parent`, else 403
    SAME      in_service -> in_service: same owner means success with no change
    HIST      push assign_to onto `pvt_reserve_history`
    MOVE      set the state (and the owner unless the target is `available`)
    ACQUIRE   buy at the carrier (skipped on dry run)
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..errors import Forbidden, InvalidStateTransition, NoChangeRequired
from .auth import Accounts, is_authorized, is_reserved_from_parent
from .document import PhoneNumber


class Step(str, Enum):
    MDN = "mdn"
    SELF = "self"
    AUTH = "auth"
    AUTH_SUB = "auth_sub"
    SAME = "same_owner"
    HIST = "history"
    MOVE = "move"
    ACQUIRE = "acquire"


M, S, A, AS, SAME, H, MV, ACQ = (Step.MDN, Step.SELF, Step.AUTH, Step.AUTH_SUB, Step.SAME,
                                 Step.HIST, Step.MOVE, Step.ACQUIRE)

TRANSITIONS: dict[tuple[str, str], tuple[Step, ...]] = {
    ("reserved", "discovery"): (M, A, H, MV, ACQ),
    ("reserved", "available"): (M, A, H, MV),
    ("reserved", "reserved"): (M, S, A, H, MV, ACQ),
    ("reserved", "in_service"): (M, A, H, MV),
    ("in_service", "discovery"): (M, A, MV, ACQ),
    ("in_service", "available"): (M, MV),          # anyone may buy an available number
    ("in_service", "reserved"): (M, AS, MV),
    ("in_service", "in_service"): (SAME, A, MV),   # MDN allowed: moves between accounts
    ("in_service", "port_in"): (M, A, MV),
    ("in_service", "aging"): (M, MV),              # re-buy an accidentally released number
    ("available", "available"): (M, A, MV),
    ("aging", "available"): (M, MV),
    ("aging", "aging"): (M, MV),
    ("aging", "released"): (M, MV),
    ("port_in", "port_in"): (M, MV),
}

TARGETS = {target for target, _ in TRANSITIONS}
# For these targets KAZOO checks MDN before anything else, whatever the current state.
MDN_FIRST = {"reserved", "available", "aging", "port_in"}


@dataclass(frozen=True)
class Context:
    """What a transition needs besides the number: the caller's options and the accounts."""

    accounts: Accounts
    auth_by: str | None = "system"
    assign_to: str | None = None


@dataclass
class Outcome:
    acquire: bool = False      # the carrier must buy the number
    changed: bool = True       # False: success with nothing to write (same owner)


def steps_for(target: str, current: str | None) -> tuple[Step, ...]:
    """The table lookup; raises the invalid-transition error KAZOO gives."""
    if target not in TARGETS:
        raise InvalidStateTransition()
    steps = TRANSITIONS.get((target, current or ""))
    if steps is None:
        raise InvalidStateTransition(current, target)
    return steps


def transition(pn: PhoneNumber, target: str, ctx: Context) -> Outcome:
    """Run the table's steps for `pn` (mutated in place) towards `target`."""
    current = pn.state
    if target in MDN_FIRST and pn.module_name == "knm_mdn":
        raise InvalidStateTransition("'MDN'", target)
    steps = steps_for(target, current)
    outcome = Outcome()
    for step in steps:
        if step is Step.MDN:
            if pn.module_name == "knm_mdn":
                # KAZOO reverses the arguments for target in_service; we do not
                # (design_docs/state-machine.md).
                raise InvalidStateTransition("'MDN'", target)
        elif step is Step.SELF:
            if not ctx.assign_to:
                raise Forbidden("can not assign to self")
            if ctx.assign_to == pn.assigned_to:
                raise NoChangeRequired()
        elif step is Step.AUTH:
            if not is_authorized(ctx.accounts, ctx.auth_by, pn.assigned_to, ctx.assign_to):
                raise Forbidden()
        elif step is Step.AUTH_SUB:
            if not (is_authorized(ctx.accounts, ctx.auth_by, pn.assigned_to, ctx.assign_to)
                    or is_reserved_from_parent(ctx.accounts, pn.state, pn.assigned_to,
                                               ctx.auth_by)):
                raise Forbidden()
        elif step is Step.SAME:
            if ctx.assign_to is None or ctx.assign_to == pn.assigned_to:
                return Outcome(acquire=False, changed=False)
        elif step is Step.HIST:
            pn.push_reserve_history(ctx.assign_to)
        elif step is Step.MOVE:
            move(pn, target, ctx.assign_to)
        elif step is Step.ACQUIRE:
            outcome.acquire = True
    return outcome


def move(pn: PhoneNumber, state: str, assign_to: str | None) -> None:
    pn.state = state
    if state != "available" and assign_to and assign_to != pn.assigned_to:
        pn.assigned_to = assign_to
