"""Number operations over collections (`knm_ops` / `knm_numbers`, reference §4).

Each operation takes many numbers and `Options` and returns, per number, the outcome or a
KAZOO error; one number's failure never stops the others. The pipeline per number is:
parse -> fetch (read authorisation) -> plan (pure: `states`, `auth`) -> carrier call (the
only side effect outside CouchDB; never on a dry run) -> save (bulk, account copies). A save
that meets a concurrent edit re-reads the number and runs its plan again.

A dry run authorises and plans exactly like the real run, calls no carrier (release
included, unlike KAZOO) and writes nothing; it reports what would happen and a charges
quote (`charges.py`).
"""
from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

from .. import carriers
from ..carriers import Carrier, CarrierContext, UnknownCarrier
from ..couch.client import Couch
from ..errors import (
    AssignFailure,
    CarrierNotInstalled,
    DocConflict,
    Forbidden,
    InvalidStateTransition,
    KnmError,
    KzError,
    NotFound,
    NumberExists,
    NumberIsPorting,
    Unspecified,
)
from ..model import states
from ..model.auth import (
    SYSTEM,
    Accounts,
    can_read,
    ensure_can_assign,
    ensure_can_create,
    is_authorized,
)
from ..model.config import NUMBER_MANAGER, Config
from ..model.document import LOCAL_MODULES, PhoneNumber
from ..numbers import NumberRules, is_account_id
from ..providers import ProviderRun
from ..providers.runner import Features
from . import charges
from .model import (
    TOMBSTONE_KEYS,
    CarrierCallDeferred,
    Hooks,
    Options,
    Outcome,
    Plan,
    PlanFn,
    Result,
    SaveConflict,
)
from .store import NumberStore

__all__ = ["Ops", "Options", "Outcome", "Result", "Hooks", "Plan"]

CREATABLE_EXISTING = ("aging", "available", "port_in")
RELEASABLE = ("released", "reserved", "port_in", "in_service")
SAVE_ATTEMPTS = 3


class Ops:
    def __init__(self, couch: Couch, config: Config, node_rules: NumberRules | None = None,
                 carrier_ctx: CarrierContext | None = None, hooks: Hooks | None = None):
        self.couch = couch
        self.config = config
        self.rules = node_rules or NumberRules.from_config(config.section(NUMBER_MANAGER))
        self.store = NumberStore(couch, self.rules,
                                 config.get(NUMBER_MANAGER, "available_module_name"))
        self.carrier_ctx = carrier_ctx or CarrierContext(couch=couch, config=config)
        self.hooks = hooks or Hooks()
        self.features = Features(config, self.carrier_ctx)
        self._carriers: dict[str, Carrier | None] = {}
        # carrier actions performed during this run: a save conflict re-plans the number,
        # and the re-plan must not buy it again
        self._performed: dict[tuple[str, str], dict[str, Any]] = {}

    # --- shared plumbing -----------------------------------------------------------------

    def carrier(self, module: str) -> Carrier | None:
        """The loaded carrier, or None when no such module exists (KAZOO skips it)."""
        if module not in self._carriers:
            try:
                self._carriers[module] = carriers.load(module, self.carrier_ctx)
            except UnknownCarrier:
                self._carriers[module] = None
        return self._carriers[module]

    def accounts(self, *ids: str | None) -> Accounts:
        docs = {}
        for acct in {i for i in ids if i and i != SYSTEM}:
            doc = self.config.account(acct)
            if doc:
                docs[acct] = doc
                for parent in doc.get("pvt_tree") or []:
                    if parent not in docs:
                        docs[parent] = self.config.account(parent) or {}
        return Accounts(docs)

    def parse(self, numbers: list[str], result: Result) -> list[str]:
        """Normalise and de-duplicate; unusable numbers fail with KAZOO's error."""
        out: list[str] = []
        for raw in numbers:
            try:
                num = self.rules.parse(raw)
            except KzError as exc:
                result.outcomes[str(raw)] = Outcome(str(raw), error=exc)
                continue
            if num not in out:
                out.append(num)
        return out

    def run(self, operation: str, numbers: list[str], opts: Options, plan: PlanFn,
            must_exist: bool = True, read_auth: bool = True, mdn_rule: bool = True,
            providers: str | None = None) -> Result:
        result = Result(operation, opts.dry_run)
        nums = self.parse(numbers, result)
        pending = list(nums)
        for attempt in range(SAVE_ATTEMPTS if self.hooks.replan_on_conflict else 1):
            if not pending:
                break
            plans = self._plan_all(pending, opts, plan, result, must_exist, read_auth,
                                   mdn_rule, providers)
            pending = self._execute(plans, opts, result)
        for num in pending:
            result.outcomes[num] = Outcome(num, error=SaveConflict())
        if opts.dry_run and self.hooks.quote:
            result.charges = charges.quote(self.couch, self.config, self.rules,
                                           list(result.successes.values()))
        return result

    def _plan_all(self, nums: list[str], opts: Options, plan: PlanFn, result: Result,
                  must_exist: bool, read_auth: bool, mdn_rule: bool,
                  providers: str | None) -> dict[str, Plan]:
        preloaded = {n: self.hooks.preloaded.pop(n) for n in nums if n in self.hooks.preloaded}
        found = self.store.fetch_many([n for n in nums if n not in preloaded])
        found.update({n: PhoneNumber.from_json(d, self.store.available_module_name)
                      for n, d in preloaded.items()})
        owners = [pn.assigned_to for pn in found.values() if pn]
        self._accounts = self.accounts(opts.auth_by, opts.assign_to, *owners)
        plans: dict[str, Plan] = {}
        for num in nums:
            pn = found.get(num)
            placeholder = None
            if pn is not None and pn.state is None:
                # only `_id` and a request: a number that does not exist yet
                placeholder, pn = pn, None
            try:
                if pn is None and must_exist:
                    raise NotFound(num)
                if pn is not None and read_auth:
                    can_read(self._accounts, pn.state, pn.assigned_to, opts.auth_by,
                             opts.assign_to)
                before = pn.state if pn else None
                p = plan(num, pn)
                p.from_state = before
                if placeholder is not None:
                    p.pn.adopt(placeholder)
                if p.changed and mdn_rule:
                    self._check_mdn_run(p.pn, opts)
                if providers and not (p.delete and providers == "save"):
                    p.providers = providers
                    if providers == "save":
                        p.provider_calls = self.features.check(p.pn, self._run_of(p.pn, opts))
                        p.changed = p.changed or p.pn.dirty
                plans[num] = p
            except KnmError as exc:
                result.outcomes[num] = Outcome(num, error=exc)
        return plans

    def _run_of(self, pn: PhoneNumber, opts: Options) -> ProviderRun:
        return ProviderRun(auth_by=opts.auth_by, is_admin=self._accounts.is_admin(opts.auth_by),
                           dry_run=opts.dry_run,
                           account_name=self._accounts.doc(pn.assigned_to).get("name"),
                           fence=self.hooks.before_provider)

    def _providers(self, p: Plan, opts: Options, action: str | None, outcome: Outcome) -> None:
        """Run the feature providers (a failure raises: nothing written). After a
        carrier action a provider's failure does not undo the purchase: the number is
        written without that provider's changes and the outcome says what failed."""
        if p.provider_calls and not opts.dry_run and not self.hooks.carrier_calls:
            raise CarrierCallDeferred(p.pn.number)
        before, dirty = p.pn.snapshot(), p.pn.dirty
        try:
            if p.providers == "delete":
                self.features.delete(p.pn, self._run_of(p.pn, opts))
            else:
                self.features.save(p.pn, self._run_of(p.pn, opts))
        except KnmError as exc:
            if action is None or p.providers == "delete":
                raise
            p.pn.restore(before, dirty)
            outcome.features_error = exc
        outcome.provider_calls = list(p.provider_calls)

    def _check_mdn_run(self, pn: PhoneNumber, opts: Options) -> None:
        """`is_mdn_for_mdn_run`: MDN numbers are saved by MDN runs only (unless system)."""
        if opts.auth_by != SYSTEM and opts.mdn_run != (pn.module_name == "knm_mdn"):
            raise Forbidden()

    def _execute(self, plans: dict[str, Plan], opts: Options, result: Result) -> list[str]:
        """Carrier calls, then writes. Returns the numbers that met a concurrent edit."""
        to_save: list[PhoneNumber] = []
        retry: list[str] = []
        finish = None if opts.dry_run else self.hooks.finish
        for num, p in plans.items():
            try:
                action = self._carrier_call(p, opts)
                features = Outcome(num)
                if p.providers:
                    self._providers(p, opts, action, features)
            except KnmError as exc:
                result.outcomes[num] = Outcome(num, error=exc)
                continue
            outcome = Outcome(num, from_state=p.from_state,
                              to_state="deleted" if p.delete else p.pn.state,
                              assigned_to=None if p.delete else p.pn.assigned_to,
                              module_name=p.pn.module_name, carrier_action=action,
                              deleted=p.delete, changed=p.changed or p.pn.dirty,
                              number_doc=p.pn, provider_calls=features.provider_calls,
                              features_error=features.features_error)
            result.outcomes[num] = outcome
            if finish is not None:
                finish(p.pn, outcome)
            elif opts.dry_run or not outcome.changed:
                continue
            if p.delete:
                try:
                    self.store.hard_delete(p.pn, {k: p.pn.get(k) for k in TOMBSTONE_KEYS
                                                  if p.pn.get(k) is not None})
                except DocConflict:
                    retry.append(num)
                continue
            to_save.append(p.pn)
        if to_save:
            report = self.store.save(to_save)
            retry.extend(report.conflicts)
            for num, err in report.failed.items():
                result.outcomes[num].error = err
            for num, pn in report.saved.items():
                result.outcomes[num].number_doc = pn
            for num, err in report.copies_failed.items():
                result.outcomes[num].copies_error = err
        for num in retry:
            result.outcomes.pop(num, None)
        return retry

    def _carrier_call(self, p: Plan, opts: Options) -> str | None:
        if not (p.acquire or p.disconnect):
            return None
        action = "acquire" if p.acquire else "disconnect"
        if opts.dry_run:
            return action  # planned, never performed
        if not self.hooks.carrier_calls:
            raise CarrierCallDeferred(p.pn.number)
        if not p.pn.module_name:
            raise Unspecified("carrier_not_specified", p.pn.number)
        carrier = self.carrier(p.pn.module_name)
        if carrier is None and p.acquire:
            # KAZOO skips a module it cannot load; kzcarrier does not when buying: the number
            # would go into service with no purchase.
            raise CarrierNotInstalled(p.pn.number, p.pn.module_name, carriers.available())
        if carrier is None:
            return None  # a release from a module gone since (KAZOO's rule): nothing to call
        key = (p.pn.number, action)
        done = self._performed.get(key, self.hooks.carrier_done.get(p.pn.number))
        if done is not None:
            if done:
                p.pn.carrier_data = {**p.pn.carrier_data, **done}
            return action
        gate = self.hooks.gate(p.pn.module_name) if self.hooks.gate else nullcontext()
        p.pn.order_reference = self.hooks.order_reference
        with gate:
            if self.hooks.before_call is not None:
                self.hooks.before_call(p.pn.number, action)
            started = time.monotonic()
            try:
                p.pn = (carrier.acquire_number(p.pn) if p.acquire
                        else carrier.disconnect_number(p.pn))
            except KzError as exc:
                self._observe(p.pn.module_name, action, started, exc.error)
                raise
            self._observe(p.pn.module_name, action, started, None)
            if self.hooks.after_call is not None:
                self.hooks.after_call(p.pn.number, action, p.pn.carrier_data)
        self._performed[key] = p.pn.carrier_data
        return action

    def _observe(self, module: str, action: str, started: float, error: str | None) -> None:
        if self.hooks.observe is not None:
            self.hooks.observe(module, action, time.monotonic() - started, error)

    def _transition(self, pn: PhoneNumber, target: str, opts: Options,
                    assign_to: str | None) -> Plan:
        ctx = states.Context(self._accounts, opts.auth_by, assign_to)
        out = states.transition(pn, target, ctx)
        return Plan(pn, acquire=out.acquire, changed=out.changed or pn.dirty)

    def _apply_public(self, pn: PhoneNumber, opts: Options) -> None:
        if opts.public_fields is None:
            return
        if opts.merge:
            pn.merge_public_fields(opts.public_fields)
        else:
            pn.set_public_fields(opts.public_fields)

    def _module(self, name: str) -> str:
        """An explicitly named module must exist (KAZOO would store any name)."""
        carriers.carrier_class(name)
        return carriers.module_name(name)

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
        if not nums or not self.couch.db_exists("port_requests", cached=True):
            return set()
        self.couch.install_design_docs("port_requests")
        rows = self.couch.view("port_requests", "port_requests", "port_in_numbers", keys=nums)
        return {row["key"] for row in rows}

    def move(self, numbers: list[str], move_to: str | None, opts: Options) -> Result:
        """Activate into `move_to` (target in_service); buys discovery numbers."""
        opts = Options(**{**opts.__dict__, "assign_to": move_to})

        def plan(num: str, pn: PhoneNumber | None) -> Plan:
            assert pn is not None
            if not is_account_id(move_to):
                raise AssignFailure("field_undefined")
            ensure_can_assign(self._accounts, opts.auth_by, move_to)
            self._apply_public(pn, opts)
            return self._transition(pn, "in_service", opts, move_to)

        return self.run("move", numbers, opts, plan, providers="save")

    def reserve(self, numbers: list[str], opts: Options) -> Result:
        def plan(num: str, pn: PhoneNumber | None) -> Plan:
            assert pn is not None
            if not is_account_id(opts.assign_to):
                raise AssignFailure("field_undefined")
            ensure_can_assign(self._accounts, opts.auth_by, opts.assign_to)
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
        """Replace public fields (and `ported_in` when given true); no state change. Who may
        is the read rule (`can_read`, run for every operation): the owner's tree, an admin,
        a descendant of the account that reserved it, anyone for an available number."""
        def plan(num: str, pn: PhoneNumber | None) -> Plan:
            assert pn is not None
            self._apply_public(pn, opts)
            if opts.ported_in:
                pn.ported_in = True
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
            pn.features = {"local": {}} if local else {}
            pn.set_public_fields({})
            history = pn.reserve_history
            if len(history) >= 2:
                pn.reserve_history = history[1:]
                pn.assigned_to = history[1]
                pn.state = "reserved"
                return Plan(pn)
            pn.assigned_to = None
            pn.reserve_history = []
            pn.state = released_state
            carrier = self.carrier(pn.module_name) if pn.module_name else None
            upstream = carrier is not None and not carrier.keeps_number_on_release()
            if permanently or local or upstream:
                # released at an external carrier: no longer ours, so nothing is left that
                # a later move could put back in service without buying it again
                return Plan(pn, disconnect=True, delete=True)
            if should_age and pn.state == "available":
                pn.state = "aging"
            return Plan(pn, disconnect=True)

        return self.run("release", numbers, opts, plan)

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
