"""Port requests (`knm_port_request`, reference/kazoo-number-maintenance.md §5): the states
and who may move a request between them, and completion, which creates (or takes over) the
numbers in the requesting account with `pvt_ported_in` and fixes their `used_by`.

A request document lives in the `port_requests` database as KAZOO keeps it; every
transition is written at the revision read, with KAZOO's transition entry prepended to
`pvt_transitions`. While a request is submitted, pending or scheduled its numbers are
`number_is_porting` for every create (`ops/operations.py`).
"""
from __future__ import annotations

from typing import Any

from ..errors import DocConflict, KnmError, NotFound
from ..model.auth import SYSTEM
from ..model.config import NUMBER_MANAGER
from ..model.document import now_gregorian
from ..ops.model import Options
from ..ops.operations import PORT_REQUESTS, Ops
from .repair import apps_of

STATES = ("unconfirmed", "submitted", "pending", "scheduled", "completed", "rejected",
          "canceled")
ALLOWED_FROM = {
    "submitted": ("unconfirmed", "rejected"),
    "pending": ("submitted",),
    "scheduled": ("pending",),
    "completed": ("pending", "scheduled", "rejected"),
    "rejected": ("submitted", "pending", "scheduled"),
    "canceled": ("unconfirmed", "submitted", "pending", "scheduled", "rejected"),
}
BY_AUTHORITY = ("pending", "scheduled", "completed", "rejected")


class UserNotAllowed(KnmError):
    code, error = 400, "user_not_allowed"

    def __init__(self) -> None:
        super().__init__("you're not allowed to change to new state from current state, "
                         "please contact your port authority")


class PortStateTransition(KnmError):
    code, error = 400, "invalid_state_transition"

    def __init__(self, previous: str, new: str) -> None:
        super().__init__("Cannot move to new state from current state",
                         {"previous": previous, "new": new})


class TransitionErrors(KnmError):
    code, error = 500, "transition_errors"


def state_of(doc: dict[str, Any]) -> str:
    return doc.get("pvt_port_state") or "unconfirmed"


class PortRequests:
    def __init__(self, ops: Ops):
        self.ops = ops
        self.couch = ops.couch

    def get(self, port_id: str) -> dict[str, Any]:
        doc = self.couch.get(PORT_REQUESTS, port_id, missing_ok=True) \
            if self.couch.db_exists(PORT_REQUESTS) else None
        if doc is None or doc.get("pvt_type") != "port_request":
            raise NotFound(port_id)
        return doc

    def authority(self, doc: dict[str, Any]) -> str | None:
        return doc.get("pvt_port_authority")

    def check(self, doc: dict[str, Any], new: str, auth_by: str) -> None:
        """KAZOO's table: the source state, then who may."""
        previous = state_of(doc)
        allowed = ALLOWED_FROM.get(new, ())
        if new == "scheduled" and self.ops.config.get(
                NUMBER_MANAGER, "allow_port_transition_from_submitted_to_scheduled", False):
            allowed = (*allowed, "submitted")
        if previous not in allowed:
            raise PortStateTransition(previous, new)
        account = doc.get("pvt_account_id")
        accounts = self.ops.accounts(auth_by, account)
        if auth_by == SYSTEM or accounts.is_admin(auth_by) or auth_by == self.authority(doc):
            return
        if new in BY_AUTHORITY:
            raise UserNotAllowed()
        if new == "canceled" and previous != "unconfirmed":
            raise UserNotAllowed()
        if not accounts.in_hierarchy(auth_by, account):
            raise UserNotAllowed()

    def transition(self, port_id: str, new: str, auth_by: str = SYSTEM,
                   reason: str | None = None) -> dict[str, Any]:
        """Move the request to `new`; completion brings its numbers in first. Returns the
        request as written (and, on completion, `numbers_created`)."""
        if new not in STATES or new == "unconfirmed":
            raise PortStateTransition("?", new)
        doc = self.get(port_id)
        self.check(doc, new, auth_by)
        created: dict[str, Any] = {}
        if new == "completed":
            created = self._complete(doc)
        previous = state_of(doc)

        def change(current: dict[str, Any] | None) -> dict[str, Any]:
            if current is None or state_of(current) != previous:
                raise DocConflict(f"port request {port_id} changed meanwhile", 409)
            entry: dict[str, Any] = {"timestamp": now_gregorian(), "type": "transition",
                                     "transition": {"new": new, "previous": previous},
                                     "authorization": {"account": {"id": auth_by}}}
            if reason:
                entry["reason"] = reason
            current["pvt_port_state"] = new
            current["pvt_transitions"] = [entry, *(current.get("pvt_transitions") or [])]
            current["pvt_modified"] = now_gregorian()
            if new == "completed":
                current["pvt_ported_numbers"] = current.get("numbers") or {}
                current["numbers"] = {}
            return current

        written = self.couch.update(PORT_REQUESTS, port_id, change) or doc
        return {**written, "numbers_created": created} if new == "completed" else written

    def _complete(self, doc: dict[str, Any]) -> dict[str, Any]:
        """`completed_port`: the numbers created or taken over in the account, ported in;
        a failure other than "already in service in this account" leaves the request as
        it was (the numbers that did come in stay), as KAZOO."""
        account = doc.get("pvt_account_id")
        numbers = sorted(doc.get("numbers") or {})
        result = self.ops.create(numbers, Options(
            auth_by=SYSTEM, assign_to=account, ported_in=True,
            public_fields={"port_id": doc["_id"]}))
        bad = {}
        for num, err in result.failures.items():
            current = self.ops.store.fetch_many([num]).get(num)
            if current is None or current.state != "in_service" or \
                    current.assigned_to != account:
                bad[num] = err.to_json()
        if bad:
            raise TransitionErrors("numbers could not be ported in", bad)
        apps = apps_of(self.couch, account) if account else {}
        for num in result.successes:
            app = apps.get(num)
            if app in ("callflow", "trunkstore"):
                self.ops.assign_to_app([num], app, Options(auth_by=SYSTEM))
        return {n: o.to_state for n, o in result.successes.items()}
