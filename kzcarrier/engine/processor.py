"""One request, start to finish: read -> validate -> plan -> claim (with the carrier intent)
-> act -> write back. Used by the watcher's pool; safe to call for the same document from
any number of workers at once, because every write is made at the `_rev` that was read.

Exactly once at the carrier: the plan is made first without side effects (a dry run of the
operation). When it calls for a purchase or a release, the claim revision records the
intent `{action, carrier, key: request id}`. A worker that finds an expired claim with an
intent (its owner died between the carrier call and the write-back) asks the carrier
(`lookup_order`) before acting, and applies the order it finds instead of buying again.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from typing import Any, Callable

from .. import carriers
from ..carriers import OrderPending, OrderUnknown
from ..couch.client import Couch
from ..errors import (
    ByCarrier,
    CarrierNotInstalled,
    CouchUnavailable,
    DocConflict,
    Invalid,
    KzError,
    StorageError,
)
from ..metrics import Metrics
from ..model import schemas
from ..model.config import NUMBER_MANAGER, Config
from ..model.document import PhoneNumber
from ..numbers import NumberRules, number_db
from ..ops.model import CarrierCallDeferred, SaveConflict
from ..ops.operations import Hooks, Ops, Options, Outcome
from . import protocol
from .conflicts import merge_number
from .journal import (
    APPLIED,
    CALLED,
    CALLING,
    CLEAR,
    UNKNOWN,
    Busy,
    Journal,
    Lease,
    LeaseClock,
    LeaseLost,
    copies_pending,
    error_of,
)
from .protocol import RetryPolicy

log = logging.getLogger("kzcarrier.engine")

OPERATIONS = ("create", "move", "reserve", "release", "delete", "assign_to_app", "update",
              "transition")
PROVISION = "provision"   # the journal's action for a request whose only calls are providers'


def validate(db: str, doc: dict[str, Any], rules: NumberRules) -> dict[str, Any]:
    """The request, if kzcarrier can act on it; else the KzError to report."""
    num = rules.parse(doc["_id"])
    if num != doc["_id"]:
        raise Invalid(f"document id {doc['_id']!r} is not the E.164 number {num!r}")
    if number_db(num) != db:
        raise Invalid(f"{num} is filed in {db}; it belongs in {number_db(num)}")
    schemas.validate("number", doc, f"number document {num}")
    req = protocol.request_of(doc) or {}
    opts = req.get("options") or {}
    if req["operation"] == "transition" and not opts.get("state"):
        raise Invalid("operation transition needs options.state")
    if opts.get("module_name"):
        carriers.carrier_class(opts["module_name"])
    return req


class Processor:
    def __init__(self, couch: Couch, config: Config, worker: str,
                 gate: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = protocol.now, metrics: Metrics | None = None,
                 mono: Callable[[], float] = time.monotonic):
        self.couch = couch
        self.config = config
        self.worker = worker
        self.gate = gate
        self.clock = clock
        self.metrics = metrics
        self.journal = Journal(couch, worker, LeaseClock(mono))

    def policy(self) -> RetryPolicy:
        return RetryPolicy.from_config(self.config.section(NUMBER_MANAGER))

    def process(self, db: str, doc_id: str, doc: dict[str, Any] | None = None) -> str:
        """Handle the document's request if it is pending and due. Returns what happened:
        a terminal status, "retry", "busy" (someone else holds it), "idle" (nothing to do).
        `doc`: the document as just read (a feed row), saving the first read."""
        for _ in range(20):
            try:
                return self._attempt(db, doc_id, doc)
            except DocConflict:
                doc = None  # someone changed the document: re-read and decide again
            except (CouchUnavailable, StorageError):
                raise  # nothing was decided; the request stays pending
            except Exception as exc:  # a bug must not spin on one document forever
                log.exception("request %s in %s: %s", doc_id, db, exc)
                return self._internal_error(db, doc_id, exc)
        return "busy"

    def _internal_error(self, db: str, doc_id: str, exc: Exception) -> str:
        """Record an unexpected failure as `failed` (internal_error), keeping everything
        else; an intent is kept so that a retry asks the carrier first."""
        at = self.clock()

        def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            if doc is None or not protocol.is_pending(doc):
                return None
            st = protocol.own_state(doc) or {"id": (protocol.request_of(doc) or {}).get("id")}
            final = protocol.terminal(st, "failed", at, error=protocol.error_json(exc))
            doc["pvt_request_state"] = final
            return doc

        self.couch.update(db, doc_id, change)
        return "failed"

    # --- one pass ------------------------------------------------------------------------

    def _attempt(self, db: str, doc_id: str, doc: dict[str, Any] | None) -> str:
        if doc is None or doc.get("_conflicts"):
            # siblings left by a cluster's accepted conflicting writes are merged first
            doc = self.couch.resolve(db, doc_id, merge_number)
        if doc is None or not protocol.is_pending(doc):
            return "idle"
        at = self.clock()
        if protocol.due_at(doc, self.worker) > at:  # the watcher runs one pass per doc
            return "busy"
        policy = self.policy()
        previous = protocol.own_state(doc) or {}
        rid = protocol.request_id(doc)
        if rid is None:
            raw = (protocol.request_of(doc) or {}).get("id")
            return self._count(None, self._fail(db, doc, {"id": raw}, Invalid(
                "pvt_request must be an object with a non-empty string id"), at))
        state = {"id": rid, "operation": (protocol.request_of(doc) or {}).get("operation"),
                 "attempts": previous.get("attempts", 0), "started": previous.get("started")}
        op_name = state["operation"] if isinstance(state["operation"], str) else None
        options = (protocol.request_of(doc) or {}).get("options")
        wants_quote = isinstance(options, dict) and options.get("dry_run") is True
        ops = Ops(self.couch, self.config,
                  hooks=Hooks(preloaded={doc["_id"]: doc}, quote=wants_quote))
        try:
            req = validate(db, doc, ops.rules)
        except KzError as exc:
            return self._count(op_name, self._fail(db, doc, state, exc, at))
        opts = Options.from_json(req.get("options"))
        op = req["operation"]

        plan = ops.perform(op, [doc_id], replace(opts, dry_run=True))
        planned = plan.outcomes.get(doc_id) or next(iter(plan.outcomes.values()))
        if planned.error is not None and not planned.error.transient:
            return self._count(op, self._fail(db, doc, state, planned.error, at),
                               planned.module_name)
        if opts.dry_run:
            return self._count(op, self._finish_dry_run(db, doc, state, planned,
                                                        plan.charges or [], at),
                               planned.module_name)
        if planned.carrier_action or planned.provider_calls:
            return self._carrier_path(db, doc, op, opts, previous, planned, policy, at)
        if previous.get("attempts", 0) >= policy.max_attempts:
            return self._count(op, self._give_up(db, doc, state, previous, at),
                               planned.module_name)
        # Without a carrier call there is nothing to do exactly once but the write itself:
        # no claim; the outcome is written at the read _rev, so a concurrent writer makes it
        # a 409 (design_docs/engine.md).
        claimed = protocol.claim(doc, self.worker, policy, at, None)
        claimed["from_state"] = planned.from_state
        claimed["carrier"] = planned.module_name
        doc["pvt_request_state"] = claimed
        started = time.monotonic()
        try:
            status = self._act(db, doc, op, opts, claimed, policy)
        except DocConflict:
            raise  # the request is no longer as read: re-read and decide again
        except (CouchUnavailable, StorageError) as exc:
            status = self._retry_or_fail(db, doc_id, claimed, exc, policy)
        self.report(db, doc_id, claimed, planned, status, started)
        return status

    def _give_up(self, db: str, doc: dict[str, Any], state: dict[str, Any],
                 previous: dict[str, Any], at: float, mine: bool = False) -> str:
        err = previous.get("last_error") or {}
        reason = err.get("message") or "no answer"
        return self._fail(db, doc, state, KzError(
            f"gave up after {previous['attempts']} attempts: {reason}", err.get("cause")),
            at, mine=mine, last=err)

    # --- the carrier path: the journal's lease, the fence, the carrier's answer kept -----

    def _carrier_path(self, db: str, doc: dict[str, Any], op: str, opts: Options,
                      previous: dict[str, Any], planned: Outcome, policy: RetryPolicy,
                      at: float) -> str:
        num, rid = doc["_id"], protocol.request_id(doc) or ""
        try:
            lease = self.journal.acquire(db, num, rid, planned.carrier_action or PROVISION,
                                         planned.module_name or "", policy.claim_ttl_s,
                                         request=protocol.request_of(doc),
                                         first=not previous)
        except Busy:
            return "busy"
        claimed = protocol.claim(doc, self.worker, policy, at, {
            "action": planned.carrier_action, "carrier": planned.module_name, "key": rid,
            "journal": lease.doc["_id"]})
        claimed["from_state"] = planned.from_state
        claimed["carrier"] = planned.module_name
        started = time.monotonic()
        with lease.kept():
            try:
                doc["pvt_request_state"] = claimed
                doc["_rev"] = self.couch.put(db, doc)   # 409 -> DocConflict -> re-read
                status = self._act_leased(db, doc, op, opts, claimed, previous, policy, lease)
            except LeaseLost:
                return "busy"     # taken over: its new holder finishes it, asking first
            except DocConflict:
                if lease.status == CALLED:   # bought, the document changed under us: let any
                    lease.settle(CALLED)     # worker (or the journal's recovery) apply it now
                raise
            except (CouchUnavailable, StorageError) as exc:
                status = self._retry_or_fail(db, num, claimed, exc, policy)
        self.report(db, num, claimed, planned, status, started)
        return status

    def _act_leased(self, db: str, doc: dict[str, Any], op: str, opts: Options,
                    claimed: dict[str, Any], previous: dict[str, Any], policy: RetryPolicy,
                    lease: Lease) -> str:
        num = doc["_id"]
        hooks = Hooks(gate=self.gate, order_reference=claimed["id"], preloaded={num: doc},
                      settle_services=False,
                      observe=self.metrics.carrier_call if self.metrics else None,
                      before_call=lambda n, a: lease.fence(),
                      after_call=lambda n, a, data: lease.called(data),
                      # a provider's call proves the lease is still held without marking
                      # it `calling`: a purchase already `called` must stay so
                      before_provider=lambda n, p: lease.renew())
        # a save conflict re-reads and re-plans inside the operation (the carrier's answer
        # is kept), but the outcome is written only while this claim is in the document
        hooks.finish = lambda pn, outcome: self.finish(pn, outcome, claimed, claimed)
        if lease.prior in (CALLED, APPLIED):
            hooks.carrier_done[num] = lease.result      # done before: apply, never again
        elif lease.prior == UNKNOWN:
            found = self._lookup(db, doc, claimed, policy, lease)
            if isinstance(found, str):
                return found                            # an outcome: failed or retry
            if found is not None:
                lease.called(found)
                hooks.carrier_done[num] = found
        if num not in hooks.carrier_done and previous.get("attempts", 0) >= policy.max_attempts:
            lease.settle(CLEAR)       # nothing happened at the carrier (asked, or never called)
            return self._give_up(db, doc, claimed, previous, self.clock(), mine=True)
        result = Ops(self.couch, self.config, hooks=hooks).perform(op, [num], opts)
        outcome = result.outcomes.get(num) or next(iter(result.outcomes.values()))
        if outcome.error is None:
            lease.settle(APPLIED)
            self.copies_behind(outcome)
            return "completed"
        err = outcome.error
        if lease.status == CALLED:
            lease.settle(CALLED)          # bought, not written yet: the next attempt applies it
        elif lease.status == CALLING:
            done = isinstance(err, ByCarrier) and (err.nothing_done or not err.transient)
            lease.settle(CLEAR if done else UNKNOWN, error_of(err))
        else:
            lease.settle(CLEAR)
        if err.transient:
            return self._retry_or_fail(db, num, claimed, err, policy)
        return self._fail(db, doc, claimed, err, self.clock(), mine=True)

    def _lookup(self, db: str, doc: dict[str, Any], claimed: dict[str, Any],
                policy: RetryPolicy, lease: Lease) -> dict[str, Any] | None | str:
        """After an interruption: did the carrier do it? Its order data, None if certainly
        not, or the request's outcome when the carrier cannot say (yet)."""
        if lease.doc.get("action") == PROVISION:
            return None      # providers ask their API what the number has before any call
        pn = PhoneNumber.from_json(doc)
        module = lease.doc.get("carrier") or pn.module_name or ""
        carrier = Ops(self.couch, self.config).carrier(module)
        if carrier is None:
            lease.settle(UNKNOWN)
            return self._fail(db, doc, claimed, CarrierNotInstalled(
                pn.number, module, carriers.available()), self.clock(), mine=True)
        asked = time.monotonic()
        try:
            found = carrier.lookup_order(pn, claimed["id"], lease.doc.get("action", ""))
        except OrderUnknown as exc:
            self._observe_lookup(carrier.name, asked, exc)
            lease.settle(UNKNOWN, error_of(exc))
            return self._fail(db, doc, claimed, exc, self.clock(), mine=True)
        except OrderPending as exc:    # the order exists and is not final: wait, never re-order
            self._observe_lookup(carrier.name, asked, exc)
            lease.settle(UNKNOWN, error_of(exc))
            return self._retry_or_fail(db, doc["_id"], claimed, exc, policy, waiting=True)
        except KzError as exc:
            self._observe_lookup(carrier.name, asked, exc)
            lease.settle(UNKNOWN, error_of(exc))
            return self._retry_or_fail(db, doc["_id"], claimed, exc, policy)
        self._observe_lookup(carrier.name, asked, None)
        return found

    def _count(self, operation: str | None, status: str, carrier: str | None = None) -> str:
        """Count an outcome decided before any claim (validation, planning, dry run)."""
        if self.metrics is not None:
            self.metrics.request_done(operation, status, carrier)
        return status

    def report(self, db: str, doc_id: str, claimed: dict[str, Any], planned: Outcome,
               status: str, started: float) -> None:
        """Metrics, and the one structured log line per transition (no secrets: no
        options, no carrier data)."""
        if self.metrics is not None:
            self.metrics.request_done(claimed["operation"], status, planned.module_name,
                                      time.monotonic() - started)
        if not log.isEnabledFor(logging.INFO):
            return
        log.info(json.dumps({
            "event": "request", "db": db, "number": doc_id, "request_id": claimed["id"],
            "operation": claimed["operation"], "from": planned.from_state,
            "to": planned.to_state, "status": status, "carrier": planned.module_name,
            "attempt": claimed["attempts"], "worker": self.worker,
            "duration_ms": round((time.monotonic() - started) * 1000, 1)}))

    def _act(self, db: str, doc: dict[str, Any], op: str, opts: Options,
             claimed: dict[str, Any], policy: RetryPolicy) -> str:
        """A request that calls no carrier: one pass, the outcome written at the read _rev."""
        hooks = Hooks(gate=self.gate, order_reference=claimed["id"],
                      preloaded={doc["_id"]: doc}, replan_on_conflict=False,
                      carrier_calls=False, settle_services=False)
        hooks.finish = lambda pn, outcome: self.finish(pn, outcome, claimed, None)
        result = Ops(self.couch, self.config, hooks=hooks).perform(op, [doc["_id"]], opts)
        outcome = result.outcomes.get(doc["_id"]) or next(iter(result.outcomes.values()))
        if outcome.error is None:
            self.copies_behind(outcome)
            return "completed"
        if isinstance(outcome.error, (SaveConflict, CarrierCallDeferred)):
            raise DocConflict(f"{doc['_id']} changed while its request ran", 409)
        if outcome.error.transient:
            return self._retry_or_fail(db, doc["_id"], claimed, outcome.error, policy)
        return self._fail(db, doc, claimed, outcome.error, self.clock())

    def copies_behind(self, outcome: Outcome) -> None:
        """The number is written, an account copy is not: the sweep brings it in step."""
        if outcome.copies_error is not None:
            try:
                copies_pending(self.couch, outcome.number, outcome.copies_error)
            except StorageError as exc:
                log.warning("account copies of %s: %s", outcome.number, exc)

    def rules(self) -> NumberRules:
        return NumberRules.from_config(self.config.section(NUMBER_MANAGER))

    def _observe_lookup(self, carrier: str, asked: float, exc: KzError | None) -> None:
        if self.metrics is not None:
            self.metrics.carrier_call(carrier, "lookup_order", time.monotonic() - asked,
                                      exc.error if exc is not None else None)

    # --- writing the outcome -------------------------------------------------------------

    def finish(self, pn: PhoneNumber, outcome: Outcome, claimed: dict[str, Any],
               expect: dict[str, Any] | None = None) -> None:
        """Called by the operation just before it writes the number: record the outcome in
        the same revision. `expect`: the claim the document must still carry (else another
        worker or the user has taken the request over: DocConflict)."""
        if expect is not None and pn.get("pvt_request_state") != expect:
            raise DocConflict(f"{pn.number}: request {claimed['id']} is no longer claimed by "
                              f"{self.worker}", 409)
        at = self.clock()
        to = "deleted" if outcome.deleted else outcome.to_state
        final = protocol.terminal(claimed, "completed", at, to_state=to,
                                  carrier=outcome.module_name or claimed.get("carrier"))
        final.pop("intent", None)
        if outcome.carrier_action:
            final["carrier_action"] = outcome.carrier_action
        if outcome.charges:
            final["charges"] = outcome.charges      # what the request accepted
        if outcome.features_error is not None:      # bought and written; a feature was not
            final["features_error"] = outcome.features_error.to_json()
        req = pn.get("pvt_request")
        by = ((req if isinstance(req, dict) else {}).get("options") or {}).get("auth_by")
        pn.set_private("pvt_request_state", final)
        pn.set_private("pvt_transitions", protocol.append_transition(
            pn.get("pvt_transitions"), protocol.transition_entry(final, to, by or "system", at)))

    def _finish_dry_run(self, db: str, doc: dict[str, Any], state: dict[str, Any],
                        planned: Outcome, charges: list[dict[str, Any]], at: float) -> str:
        final = protocol.terminal(state, "dry_run", at, from_state=planned.from_state,
                                  to_state="deleted" if planned.deleted else planned.to_state,
                                  carrier=planned.module_name,
                                  carrier_action=planned.carrier_action,
                                  assigned_to=planned.assigned_to, charges=charges)
        doc["pvt_request_state"] = final
        self.couch.put(db, doc)
        return "dry_run"

    def _fail(self, db: str, doc: dict[str, Any], state: dict[str, Any], error: KzError,
              at: float, mine: bool = False, last: dict[str, Any] | None = None) -> str:
        """Record `failed`; nothing else in the document changes."""
        final = protocol.terminal(state, "failed", at, error=protocol.error_json(error))
        final.pop("intent", None)
        if last:
            final["last_error"] = last
        if not mine:
            doc["pvt_request_state"] = final
            self.couch.put(db, doc)   # at the rev read: 409 -> re-read
            return "failed"
        self._write_own(db, doc["_id"], state, final)
        return "failed"

    def _retry_or_fail(self, db: str, doc_id: str, claimed: dict[str, Any], error: KzError,
                       policy: RetryPolicy, waiting: bool = False) -> str:
        """A transient failure: try again after a backoff, or fail after the last attempt.
        `waiting`: an order in progress at the carrier; it is waited for, never given up."""
        at = self.clock()
        if claimed.get("attempts", 1) >= policy.max_attempts and not waiting:
            final = protocol.terminal(claimed, "failed", at, error=protocol.error_json(error))
            final.pop("intent", None)
            self._write_own(db, doc_id, claimed, final)
            return "failed"
        delay = policy.delay(claimed.get("attempts", 1), getattr(error, "retry_after", None))
        try:
            self._write_own(db, doc_id, claimed, protocol.retry_later(claimed, error, delay, at))
        except (CouchUnavailable, StorageError):
            pass  # the claim expires by itself; the next attempt starts from it
        return "retry"

    def _write_own(self, db: str, doc_id: str, claimed: dict[str, Any],
                   new_state: dict[str, Any]) -> None:
        """Replace our claim with `new_state`, unless the request is no longer ours."""
        def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            if doc is None:
                return None
            st = protocol.own_state(doc) or {}
            if st.get("worker") != claimed.get("worker") or st.get("claimed") != claimed.get(
                    "claimed"):
                return None
            doc["pvt_request_state"] = new_state
            return doc

        self.couch.update(db, doc_id, change)
