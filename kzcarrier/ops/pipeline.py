"""How every operation runs (the plumbing under `operations.py`): parse -> fetch (read
authorisation) -> plan (pure: `states`, `auth`) -> feature checks -> the charges gate ->
carrier call -> feature providers -> save (bulk, account copies) -> service quantities.
A save that meets a concurrent edit re-reads the number and runs its plan again."""
from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from .. import carriers
from ..carriers import Carrier, CarrierContext, UnknownCarrier
from ..couch.client import Couch
from ..errors import (
    CarrierNotInstalled,
    DocConflict,
    Forbidden,
    KnmError,
    KzError,
    NotFound,
    StorageError,
    Unspecified,
)
from ..model import states
from ..model.auth import (
    SYSTEM,
    Accounts,
    can_read,
)
from ..model.config import NUMBER_MANAGER, Config
from ..model.document import PhoneNumber
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
from .services import Services
from .store import NumberStore

log = logging.getLogger("kzcarrier.ops")

SAVE_ATTEMPTS = 3

class Pipeline:
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
        self.services = Services(couch, self.rules.classify)
        self._carriers: dict[str, Carrier | None] = {}
        # carrier actions performed during this run: a save conflict re-plans the number,
        # and the re-plan must not buy it again
        self._performed: dict[tuple[str, str], dict[str, Any]] = {}
        self._accepted: list[dict[str, Any]] | None = None     # the quote a run accepted

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
            if attempt == 0 and not opts.dry_run:
                refused = self._charges(operation, plans, opts)
                if refused is not None:
                    for num in plans:
                        result.outcomes[num] = Outcome(num, error=refused)
                    return result
            owed = self._owe_services(operation, plans, opts)
            pending = self._execute(plans, opts, result)
            if self.hooks.settle_services:
                self._settle_services(owed)
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
                before, owner = (pn.state, pn.assigned_to) if pn else (None, None)
                p = plan(num, pn)
                p.from_state, p.from_owner = before, owner
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

    def _charges(self, operation: str, plans: dict[str, Plan], opts: Options,
                 ) -> KzError | None:
        """Before anything happens: price the change as its dry run does and apply the gate
        (`charges.gate`); accepted charges are kept on the outcomes. Accounts without
        service plans cost one cached read."""
        self._accepted = None
        if not plans or not charges.has_plans(
                self.config, {p.pn.assigned_to for p in plans.values()}):
            return None
        dry = type(self)(self.couch, self.config, self.rules, self.carrier_ctx)
        quote = dry.perform(operation, list(plans), replace(opts, dry_run=True)).charges or []
        refused = charges.gate(self.config, quote, opts.accept_charges)
        if refused is None and quote:
            self._accepted = quote
        return refused

    def _owe_services(self, operation: str, plans: dict[str, Plan], opts: Options,
                      ) -> set[str]:
        """The accounts whose quantities a real run may change, marked before any write
        (`services.py`): a crash after the write leaves the mark for the sweep."""
        if opts.dry_run or not plans or operation in ("get", "assign_to_app") or \
                not self.services.enabled():
            return set()
        deferred = not self.hooks.carrier_calls     # those calls come back untouched
        pairs = {(a, num) for num, p in plans.items()
                 if not (deferred and (p.acquire or p.disconnect or p.provider_calls))
                 for a in (p.pn.assigned_to, p.from_owner) if is_account_id(a)}
        self.services.mark(pairs)
        return {a for a, _ in pairs}

    def _settle_services(self, owed: set[str]) -> None:
        for account in sorted(owed):
            try:
                self.services.settle(account)
            except StorageError as exc:      # the mark stays: the sweep settles it
                log.warning("services of %s not reconciled yet: %s", account, exc)

    def _run_of(self, pn: PhoneNumber, opts: Options) -> ProviderRun:
        return ProviderRun(auth_by=opts.auth_by, is_admin=self._accounts.is_admin(opts.auth_by),
                           dry_run=opts.dry_run,
                           account_name=self._accounts.doc(pn.assigned_to).get("name"),
                           fence=self.hooks.before_provider)

    def _providers(self, p: Plan, opts: Options, action: str | None, outcome: Outcome) -> None:
        """Run the feature providers (a failure raises: nothing written). After a
        carrier action a provider's failure does not undo it: the number is written as
        the carrier left it (bought, or released) without that provider's changes, and
        the outcome says what failed (`features_error`)."""
        if p.provider_calls and not opts.dry_run and not self.hooks.carrier_calls:
            raise CarrierCallDeferred(p.pn.number)
        before, dirty = p.pn.snapshot(), p.pn.dirty
        try:
            if p.providers == "delete":
                gone = p.removal or p.pn
                self.features.delete(gone, self._run_of(gone, opts))
            else:
                self.features.save(p.pn, self._run_of(p.pn, opts))
        except KnmError as exc:
            if action is None:      # nothing happened at a carrier: the number fails whole
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
                              features_error=features.features_error,
                              charges=None if opts.dry_run else self._accepted)
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
