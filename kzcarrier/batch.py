"""Many fresh requests at once: the watcher's fast path for a page of its feed.

Requests that call no carrier (a `move` of a local number, `assign_to_app`, `update`, most
`reserve`s...) need no claim: their outcome is written at the `_rev` that was read, and a
concurrent writer turns that write into a conflict (design_docs/engine.md). Such requests
with the same operation and options are planned together (one dry run over all of them)
and written together (one operation, one `_bulk_docs`), each number with its own terminal
state and transition in the same revision.

Anything else goes back to the caller to be processed one by one by `Processor.process`:
a request seen before (a retry, a claim), a dry run, one that fails validation or
planning (the single path writes its error), one whose plan calls a carrier (claim with
intent first), and any number whose write met a conflict (re-read and decided again).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

from . import protocol
from .errors import KzError, StorageError
from .ops import Hooks, Ops, Options
from .processor import Processor, validate


@dataclass
class BatchResult:
    statuses: dict[str, str] = field(default_factory=dict)   # number -> "completed"
    single: list[dict[str, Any] | None] = field(default_factory=list)  # for one by one
    single_ids: list[str] = field(default_factory=list)

    def one_by_one(self, doc_id: str, doc: dict[str, Any] | None) -> None:
        """`doc` None: read it again first (it was written meanwhile)."""
        self.single_ids.append(doc_id)
        self.single.append(doc)


def _fresh(doc: dict[str, Any]) -> bool:
    """A request no worker has touched: no state of its own, a usable id."""
    return protocol.own_state(doc) is None and protocol.request_id(doc) is not None


class Batch:
    def __init__(self, processor: Processor):
        self.processor = processor

    def process(self, db: str, docs: list[dict[str, Any]]) -> BatchResult:
        proc = self.processor
        out = BatchResult()
        ops = Ops(proc.couch, proc.config)
        groups: dict[str, list[dict[str, Any]]] = {}
        for doc in docs:
            if not protocol.is_pending(doc) or not _fresh(doc):
                out.one_by_one(doc["_id"], doc)
                continue
            try:
                req = validate(db, doc, ops.rules)
            except KzError:
                out.one_by_one(doc["_id"], doc)
                continue
            options = req.get("options") or {}
            if options.get("dry_run") is True:
                out.one_by_one(doc["_id"], doc)
                continue
            key = json.dumps([req["operation"], options], sort_keys=True)
            groups.setdefault(key, []).append(doc)
        for key, members in groups.items():
            operation, options = json.loads(key)
            self._group(db, operation, Options.from_json(options), members, out)
        return out

    def _group(self, db: str, operation: str, opts: Options, docs: list[dict[str, Any]],
               out: BatchResult) -> None:
        proc = self.processor
        by_id = {doc["_id"]: doc for doc in docs}
        started = time.monotonic()
        try:
            plan = Ops(proc.couch, proc.config, hooks=Hooks(preloaded=dict(by_id), quote=False)
                       ).perform(operation, list(by_id), replace(opts, dry_run=True))
        except (KzError, StorageError):
            for doc_id, doc in by_id.items():
                out.one_by_one(doc_id, doc)
            return
        at = proc.clock()
        policy = proc.policy()
        claims: dict[str, dict[str, Any]] = {}
        for doc_id, doc in by_id.items():
            planned = plan.outcomes.get(doc_id)
            if planned is None or planned.error is not None or planned.carrier_action:
                out.one_by_one(doc_id, doc)
                continue
            claimed = protocol.claim(doc, proc.worker, policy, at, None)
            claimed.update(from_state=planned.from_state, carrier=planned.module_name)
            claims[doc_id] = claimed
        if not claims:
            return
        hooks = Hooks(preloaded={n: by_id[n] for n in claims}, replan_on_conflict=False)
        hooks.finish = lambda pn, outcome: proc.finish(pn, outcome, claims[pn.number])
        try:
            result = Ops(proc.couch, proc.config, hooks=hooks).perform(
                operation, list(claims), opts)
        except (KzError, StorageError):
            for doc_id in claims:
                out.one_by_one(doc_id, None)
            return
        for doc_id, claimed in claims.items():
            outcome = result.outcomes.get(doc_id)
            if outcome is None or outcome.error is not None:
                out.one_by_one(doc_id, None)
                continue
            out.statuses[doc_id] = "completed"
            proc.log_transition(db, doc_id, claimed, plan.outcomes[doc_id], "completed",
                                started)
