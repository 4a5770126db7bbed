"""Number operations over collections (`knm_ops` / `knm_numbers`, reference §4).

Each operation takes many numbers and `Options` and returns, per number, the outcome or a
KAZOO error; one number's failure never stops the others. Each operation here is its plan
step; `pipeline.py` runs it (fetch, authorisation, feature checks, the charges gate, the
carrier call, providers, save, service quantities).

A dry run authorises and plans exactly like the real run, calls no carrier (release
included, unlike KAZOO) and writes nothing; it reports what would happen and a charges
quote (`charges.py`).
"""
from __future__ import annotations

from typing import Any

from ..couch.client import Couch
from ..errors import (
    AssignFailure,
    DocNotFound,
    Forbidden,
    InvalidStateTransition,
    KnmError,
    KzError,
    NumberExists,
    NumberIsPorting,
)
from ..model.auth import (
    ensure_can_assign,
    ensure_can_create,
    is_authorized,
)
from ..model.config import NUMBER_MANAGER
from ..model.document import LOCAL_MODULES, PhoneNumber
from ..numbers import is_account_id
from .model import (
    Hooks,
    Options,
    Outcome,
    Plan,
    Result,
)
from .pipeline import Pipeline

__all__ = ["Ops", "Options", "Outcome", "Result", "Hooks", "Plan"]

PORT_REQUESTS = "port_requests"
CREATABLE_EXISTING = ("aging", "available", "port_in")
RELEASABLE = ("released", "reserved", "port_in", "in_service")


def active_ports(couch: Couch, numbers: list[str]) -> dict[str, dict[str, Any]]:
    """Normalised numbers in an active (submitted, pending, scheduled) port request: its
    `port_requests/port_in_numbers` row (`id` the request, `value` its account)."""
    if not numbers or not couch.db_exists(PORT_REQUESTS, cached=True):
        return {}
    # checked once: twice a purchase, its read was 2 of 13 requests
    couch.install_design_docs(PORT_REQUESTS, once=True)
    try:
        rows = couch.view(PORT_REQUESTS, "port_requests", "port_in_numbers", keys=numbers)
    except DocNotFound:     # the design document removed since it was checked
        couch.install_design_docs(PORT_REQUESTS)
        rows = couch.view(PORT_REQUESTS, "port_requests", "port_in_numbers", keys=numbers)
    return {row["key"]: row for row in rows}


class Ops(Pipeline):
    """KAZOO's operations (`knm_ops`), each a plan step run by the pipeline."""

    # --- operations ----------------------------------------------------------------------

    def get(self, numbers: list[str], opts: Options = Options()) -> Result:
        return self.run("get", numbers, opts,
                        lambda num, pn: Plan(pn, changed=False))  # type: ignore[arg-type]

    def create(self, numbers: list[str], opts: Options) -> Result:
        accounts = self.accounts(opts.auth_by, opts.assign_to)
        module = self._module(opts.module_name) if opts.module_name else None
        try:
            target = ensure_can_create(accounts, opts.auth_by, opts.assign_to, opts.state,
                                       opts.ported_in, module)
        except KnmError as exc:
            result = Result("create", opts.dry_run)
            for num in self.parse(numbers, result):
                result.outcomes[num] = Outcome(num, error=exc)
            return result
        port_in_module = self.config.get(NUMBER_MANAGER, "port_in_module_name")
        porting = set() if opts.ported_in else self._porting_numbers(numbers)

        def plan(num: str, pn: PhoneNumber | None) -> Plan:
            shell = None
            if pn is not None and pn.state == "discovery":
                # a stored search result, not a number the platform holds: KAZOO (whose
                # search results live in memory) creates the number afresh
                shell, pn = pn.shell(), None
            if pn is not None:
                if pn.state not in CREATABLE_EXISTING:
                    raise NumberExists(num)
                self._apply_public(pn, opts)
                if opts.ported_in:
                    pn.module_name = port_in_module
                    pn.ported_in = True
                elif module:
                    pn.module_name = module
                return self._transition(pn, target, opts, opts.assign_to)
            if num in porting:
                raise NumberIsPorting(num)
            name = module or self.config.get(NUMBER_MANAGER, "available_module_name")
            if target == "port_in":
                name = "knm_local"
            elif opts.ported_in:
                name = port_in_module
            new = PhoneNumber.new(num, target, name, ported_in=opts.ported_in)
            if opts.public_fields:
                new.set_public_fields(opts.public_fields)
            if target != "available":
                new.assigned_to = opts.assign_to
            if target == "reserved":
                new.push_reserve_history(opts.assign_to)
            if shell is not None:
                new.adopt(shell)
            return Plan(new, acquire=target == "reserved")

        return self.run("create", numbers, opts, plan, must_exist=False, providers="save")

    def _porting_numbers(self, numbers: list[str]) -> set[str]:
        """Numbers in an active port request (`port_requests/port_in_numbers`)."""
        nums = []
        for raw in numbers:
            try:
                nums.append(self.rules.parse(raw))
            except KzError:
                continue
        return set(active_ports(self.couch, nums))

    def _not_porting(self, pn: PhoneNumber) -> None:
        """A stored search result is bought by move or reserve: not while it is being
        ported in (KAZOO checks create only, where its search results are bought)."""
        if pn.state == "discovery" and self._porting_numbers([pn.number]):
            raise NumberIsPorting(pn.number)

    def move(self, numbers: list[str], move_to: str | None, opts: Options) -> Result:
        """Activate into `move_to` (target in_service); buys discovery numbers."""
        opts = Options(**{**opts.__dict__, "assign_to": move_to})

        def plan(num: str, pn: PhoneNumber | None) -> Plan:
            assert pn is not None
            if not is_account_id(move_to):
                raise AssignFailure("field_undefined")
            ensure_can_assign(self._accounts, opts.auth_by, move_to)
            self._not_porting(pn)
            self._apply_public(pn, opts)
            return self._transition(pn, "in_service", opts, move_to)

        return self.run("move", numbers, opts, plan, providers="save")

    def reserve(self, numbers: list[str], opts: Options) -> Result:
        def plan(num: str, pn: PhoneNumber | None) -> Plan:
            assert pn is not None
            if not is_account_id(opts.assign_to):
                raise AssignFailure("field_undefined")
            ensure_can_assign(self._accounts, opts.auth_by, opts.assign_to)
            self._not_porting(pn)
            self._apply_public(pn, opts)
            return self._transition(pn, "reserved", opts, opts.assign_to)

        return self.run("reserve", numbers, opts, plan, providers="save")

    def transition(self, numbers: list[str], opts: Options) -> Result:
        """Move to `opts.state` by the table (`knm_ops` with the state option)."""
        target = opts.state or ""

        def plan(num: str, pn: PhoneNumber | None) -> Plan:
            assert pn is not None
            ensure_can_assign(self._accounts, opts.auth_by, opts.assign_to)
            self._apply_public(pn, opts)
            return self._transition(pn, target, opts, opts.assign_to)

        return self.run("transition", numbers, opts, plan)

    def update(self, numbers: list[str], opts: Options) -> Result:
        """Replace public fields (and `ported_in` when given true; the carrier module, for
        admins, when `module_name` is given); no state change. Who may
        is the read rule (`can_read`, run for every operation): the owner's tree, an admin,
        a descendant of the account that reserved it, anyone for an available number."""
        module = self._module(opts.module_name) if opts.module_name else None
        if module and not self.accounts(opts.auth_by).is_admin(opts.auth_by):
            result = Result("update", opts.dry_run)    # carrier_name's rule: admins only
            for num in self.parse(numbers, result):
                result.outcomes[num] = Outcome(num, error=Forbidden())
            return result

        def plan(num: str, pn: PhoneNumber | None) -> Plan:
            assert pn is not None
            self._apply_public(pn, opts)
            if opts.ported_in:
                pn.ported_in = True
            if module:     # `convert_carrier_module`'s set_module_name
                pn.module_name = module
            return Plan(pn, changed=pn.dirty)

        return self.run("update", numbers, opts, plan, providers="save")

    def assign_to_app(self, numbers: list[str], app: str | None, opts: Options) -> Result:
        def plan(num: str, pn: PhoneNumber | None) -> Plan:
            assert pn is not None
            pn.used_by = app
            return Plan(pn, changed=pn.dirty)

        return self.run("assign_to_app", numbers, opts, plan)

    def release(self, numbers: list[str], opts: Options) -> Result:
        released_state = self.config.get(NUMBER_MANAGER, "released_state")
        permanently = self.config.get(NUMBER_MANAGER, "should_permanently_delete")
        should_age = self.config.get(NUMBER_MANAGER, "should_age")

        def plan(num: str, pn: PhoneNumber | None) -> Plan:
            assert pn is not None
            local = pn.module_name in LOCAL_MODULES
            if pn.state not in RELEASABLE and pn.module_name != "knm_local":
                raise InvalidStateTransition(pn.state, released_state)
            if not is_authorized(self._accounts, opts.auth_by, pn.assigned_to, None):
                raise Forbidden()
            # the providers remove what they set up (E911, CNAM) from the number as it was;
            # KAZOO resets the features first, so its providers never run on a release
            removal = PhoneNumber.from_json(pn.to_json())
            pn.features = {"local": {}} if local else {}
            pn.set_public_fields({})
            history = pn.reserve_history
            if len(history) >= 2:
                pn.reserve_history = history[1:]
                pn.assigned_to = history[1]
                pn.state = "reserved"
                return Plan(pn, removal=removal)
            pn.assigned_to = None
            pn.reserve_history = []
            pn.state = released_state
            carrier = self.carrier(pn.module_name) if pn.module_name else None
            upstream = carrier is not None and not carrier.keeps_number_on_release()
            if permanently or local or upstream:
                # released at an external carrier: no longer ours, so nothing is left that
                # a later move could put back in service without buying it again
                return Plan(pn, disconnect=True, delete=True, removal=removal)
            if should_age and pn.state == "available":
                pn.state = "aging"
            return Plan(pn, disconnect=True, removal=removal)

        return self.run("release", numbers, opts, plan, providers="delete")

    def delete(self, numbers: list[str], opts: Options) -> Result:
        """Admin hard delete: no state check, no carrier."""
        if not self.accounts(opts.auth_by).is_admin(opts.auth_by):
            result = Result("delete", opts.dry_run)
            for num in self.parse(numbers, result):
                result.outcomes[num] = Outcome(num, error=Forbidden())
            return result

        def plan(num: str, pn: PhoneNumber | None) -> Plan:
            assert pn is not None
            return Plan(pn, delete=True)

        # KAZOO's hard delete never sets `mdn_run`, and its MDN rule is a save rule
        return self.run("delete", numbers, opts, plan, mdn_rule=False, providers="delete")

    def perform(self, operation: str, numbers: list[str], opts: Options) -> Result:
        """Dispatch by the document protocol's operation name."""
        if operation == "move":
            return self.move(numbers, opts.assign_to, opts)
        if operation == "assign_to_app":
            return self.assign_to_app(numbers, opts.used_by, opts)
        if operation in ("create", "reserve", "release", "delete", "update", "transition"):
            return getattr(self, operation)(numbers, opts)
        raise KzError(f"unknown operation {operation!r}")
