"""Who may do what to a number (reference/kazoo-number-states.md §2, §4.1). Pure.

`Accounts` is a snapshot of the account documents an operation needs (read by the caller);
every rule below is a function of it and of the number's fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import AssignFailure, Forbidden
from ..numbers import is_account_id

SYSTEM = "system"


def is_true(value: Any) -> bool:
    """`kz_term:is_true`: only `true` and the string "true" count (never "false", 1, "yes")."""
    return value is True or value == "true"

ADMIN_CREATION_STATES = ("aging", "available", "in_service", "port_in", "reserved")
ADDITIONS_CREATION_STATES = ("in_service", "reserved")


@dataclass(frozen=True)
class Accounts:
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def doc(self, account_id: str | None) -> dict[str, Any]:
        return self.docs.get(account_id or "", {}) or {}

    def is_admin(self, account_id: str | None) -> bool:
        """`"system"` or a super-duper admin account."""
        return account_id == SYSTEM or is_true(self.doc(account_id).get("pvt_superduper_admin"))

    def in_hierarchy(self, parent: str | None, child: str | None) -> bool:
        """hier(A, B): A is B or one of B's ancestors (`pvt_tree`)."""
        if not parent or not child:
            return False
        return parent == child or parent in (self.doc(child).get("pvt_tree") or [])

    def allows_additions(self, account_id: str | None) -> bool:
        return is_true(self.doc(account_id).get("pvt_wnm_allow_additions"))

    def exists(self, account_id: str | None) -> bool:
        return bool(self.doc(account_id))


def is_authorized(accounts: Accounts, auth_by: str | None, assigned_to: str | None,
                  assign_to: str | None) -> bool:
    if auth_by == SYSTEM:
        return True
    if not auth_by:
        return False
    if accounts.is_admin(auth_by):
        return True
    if not assigned_to:
        return bool(assign_to) and accounts.in_hierarchy(auth_by, assign_to)
    return accounts.in_hierarchy(auth_by, assigned_to)


def may_assign(accounts: Accounts, auth_by: str | None, assign_to: str | None) -> bool:
    """Whether `auth_by` may put a number into `assign_to`: an admin anywhere, any other
    account only into itself or a descendant. KAZOO gets this from crossbar, which only
    lets a caller act on accounts in its tree; a request document has no such gate, so
    every operation that assigns checks it here."""
    return accounts.is_admin(auth_by) or accounts.in_hierarchy(auth_by, assign_to)


def ensure_can_assign(accounts: Accounts, auth_by: str | None, assign_to: str | None) -> None:
    if assign_to and not may_assign(accounts, auth_by, assign_to):
        raise Forbidden()


def is_reserved_from_parent(accounts: Accounts, state: str | None, assigned_to: str | None,
                            auth_by: str | None) -> bool:
    """A descendant may take a number its ancestor reserved."""
    return (state == "reserved" and bool(assigned_to)
            and (accounts.is_admin(assigned_to) or accounts.in_hierarchy(assigned_to, auth_by)))


def can_read(accounts: Accounts, state: str | None, assigned_to: str | None,
             auth_by: str | None, assign_to: str | None) -> None:
    """The fetch check every operation starts with; raises 403 `forbidden`."""
    if state == "available":
        return
    if is_authorized(accounts, auth_by, assigned_to, assign_to):
        return
    if is_reserved_from_parent(accounts, state, assigned_to, auth_by):
        return
    raise Forbidden()


def allowed_creation_states(accounts: Accounts, auth_by: str | None) -> tuple[str, ...]:
    if accounts.is_admin(auth_by):
        return ADMIN_CREATION_STATES
    if auth_by and accounts.allows_additions(auth_by):
        return ADDITIONS_CREATION_STATES
    return ()


def state_for_create(state: str | None, ported_in: bool, module_name: str | None) -> str:
    if state == "port_in":
        return "port_in"
    if ported_in or module_name == "knm_mdn":
        return "in_service"
    return state or "in_service"


def ensure_can_create(accounts: Accounts, auth_by: str | None, assign_to: str | None,
                      state: str | None, ported_in: bool, module_name: str | None) -> str:
    """`knm_lib:ensure_can_create/1`: the target state, or the error every number gets."""
    target = state_for_create(state, ported_in, module_name)
    forced = state == "port_in" or ported_in or module_name == "knm_mdn"
    if not forced and target not in allowed_creation_states(accounts, auth_by):
        raise Forbidden(f"creating number in state '{target}' is not allowed")
    if not is_account_id(assign_to):
        raise AssignFailure("field_undefined")
    if auth_by == SYSTEM:
        return target
    if not is_account_id(auth_by):
        raise Forbidden("cannot determined account is allowed to create number, "
                        "account id is undefined")
    if not (ported_in or target == "port_in" or accounts.allows_additions(auth_by)
            or accounts.is_admin(auth_by)):
        raise Forbidden(f"account '{auth_by}' is not allowed to create number")
    # KAZOO authorises the new number in `to_options_state` (in_service, reserved); port_in
    # has no such step there, but a number never lands outside the creator's tree here.
    ensure_can_assign(accounts, auth_by, assign_to)
    return target
