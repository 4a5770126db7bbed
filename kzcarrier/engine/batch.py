"""Many fresh requests at once: the watcher's fast path for a page of its feed.

Requests that call no carrier (a `move` of a local number, `assign_to_app`, `update`, most
`reserve`s...) need no claim: their outcome is written at the `_rev` that was read, and a
concurrent writer turns that write into a conflict (design_docs/engine.md). Such requests
with the same operation and options run as one operation (one plan, one `_bulk_docs`), each
number with its own terminal state and transition in the same revision.

Anything else goes back to the caller to be processed one by one by `Processor.process`:
a request seen before (a retry, a claim), a dry run, one that fails validation or
planning (the single path writes its error), one whose plan calls a carrier (claim with
intent first: the operation here refuses carrier calls), and any number whose write met a
conflict (re-read and decided again).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import KzError, StorageError
from ..model.config import NUMBER_MANAGER
from ..numbers import NumberRules
from ..ops.model import CarrierCallDeferred
from ..ops.operations import Hooks, Ops, Options
from . import protocol
from .processor import Processor, validate


@dataclass
class BatchResult:
    statuses: dict[str, str] = field(default_factory=dict)   # number -> "completed"
    # for one by one: (number, the document as read, or None: read it again first)
    single: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)

    def one_by_one(self, doc_id: str, doc: dict[str, Any] | None) -> None:
        self.single.append((doc_id, doc))


def _fresh(doc: dict[str, Any]) -> bool:
    """A request no worker has touched: no state of its own, a usable id."""
    return protocol.own_state(doc) is None and protocol.request_id(doc) is not None


class Batch:
    def __init__(self, processor: Processor):
        self.processor = processor

    def process(self, db: str, docs: list[dict[str, Any]]) -> BatchResult:
        proc = self.processor
        out = BatchResult()
        rules = NumberRules.from_config(proc.config.section(NUMBER_MANAGER))
        groups: dict[str, list[dict[str, Any]]] = {}
        for doc in docs:
            if not protocol.is_pending(doc) or not _fresh(doc) or doc.get("_conflicts"):
                out.one_by_one(doc["_id"], doc)
                continue
            try:
                req = validate(db, doc, rules)
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
        """One pass of the real operation over the group. It calls no carrier
        (`carrier_calls=False`): a number that needs one comes back untouched and is handed
        on with the document as read; one that failed is handed on to be read again."""
        proc = self.processor
        by_id = {doc["_id"]: doc for doc in docs}
        started = time.monotonic()
        at = proc.clock()
        policy = proc.policy()
        claims = {doc_id: protocol.claim(doc, proc.worker, policy, at, None)
                  for doc_id, doc in by_id.items()}

        def finish(pn: Any, outcome: Any) -> None:
            claims[pn.number].update(from_state=outcome.from_state,
                                     carrier=outcome.module_name)
            proc.finish(pn, outcome, claims[pn.number])

        hooks = Hooks(preloaded=dict(by_id), replan_on_conflict=False, carrier_calls=False,
                      settle_services=False,
                      finish=finish)
        try:
            result = Ops(proc.couch, proc.config, hooks=hooks).perform(
                operation, list(by_id), opts)
        except (KzError, StorageError):
            for doc_id in by_id:  # some may be written: read them all again
                out.one_by_one(doc_id, None)
            return
        for doc_id, doc in by_id.items():
            outcome = result.outcomes.get(doc_id)
            if outcome is not None and isinstance(outcome.error, CarrierCallDeferred):
                out.one_by_one(doc_id, doc)   # untouched: claimed, then the carrier called
            elif outcome is None or outcome.error is not None:
                out.one_by_one(doc_id, None)  # a conflict, or an error: read it again first
            else:
                out.statuses[doc_id] = "completed"
                proc.copies_behind(outcome)
                proc.report(db, doc_id, claims[doc_id], outcome, "completed",
                                    started)
