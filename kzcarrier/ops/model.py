"""The values operations take and return: `Options` (KAZOO's knm_options), `Outcome` and
`Result` (per number, success or a KAZOO error), `Plan` (what one number needs), and
`Hooks` (how the engine rides along an operation)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable

from ..errors import KzError, Unspecified
from ..model.auth import SYSTEM
from ..model.document import PhoneNumber


@dataclass(frozen=True)
class Options:
    """KAZOO's knm_options, as the document protocol spells them."""

    auth_by: str | None = SYSTEM
    assign_to: str | None = None
    dry_run: bool = False
    module_name: str | None = None
    ported_in: bool = False
    public_fields: dict[str, Any] | None = None
    state: str | None = None
    used_by: str | None = None
    mdn_run: bool = False
    merge: bool = False     # update: deep-merge public_fields (KAZOO's PATCH), not replace
    accept_charges: bool = False   # a change that costs money goes ahead (crossbar's 402)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "Options":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})


@dataclass
class Outcome:
    """What happened (or, on a dry run, would happen) to one number."""

    number: str
    error: KzError | None = None
    from_state: str | None = None
    to_state: str | None = None
    assigned_to: str | None = None
    module_name: str | None = None
    carrier_action: str | None = None   # "acquire" | "disconnect" | None
    deleted: bool = False
    changed: bool = True
    number_doc: PhoneNumber | None = field(default=None, repr=False, compare=False)
    copies_error: KzError | None = None   # written, but an account copy is not in step yet
    provider_calls: list[str] = field(default_factory=list)   # feature providers' API calls
    features_error: KzError | None = None  # bought and written; a feature was not set up
    charges: list[dict[str, Any]] | None = None   # the quote the request accepted

    @property
    def doc(self) -> dict[str, Any] | None:
        """The number document as written (or, on a dry run, as it would be)."""
        return self.number_doc.to_json() if self.number_doc is not None else None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"number": self.number, "error": self.error.to_json()}
        return {"number": self.number, "state": self.to_state, "from_state": self.from_state,
                "assigned_to": self.assigned_to, "module_name": self.module_name,
                "carrier_action": self.carrier_action, "deleted": self.deleted,
                "changed": self.changed,
                **({"provider_calls": self.provider_calls} if self.provider_calls else {}),
                **({"features_error": self.features_error.to_json()}
                   if self.features_error is not None else {}),
                **({"account_copies": {"pending": str(self.copies_error)}}
                   if self.copies_error is not None else {})}


@dataclass
class Result:
    operation: str
    dry_run: bool
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    charges: list[dict[str, Any]] | None = None

    @property
    def successes(self) -> dict[str, Outcome]:
        return {n: o for n, o in self.outcomes.items() if o.ok}

    @property
    def failures(self) -> dict[str, KzError]:
        return {n: o.error for n, o in self.outcomes.items() if o.error is not None}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "operation": self.operation, "dry_run": self.dry_run,
            "success": {n: o.to_json() for n, o in self.successes.items()},
            "error": {n: e.to_json() for n, e in self.failures.items()}}
        if self.dry_run:
            out["charges"] = self.charges or []
        return out


# A plan step: given the fetched number (None if there is no document) returns the number
# to save, and what the carrier must do. Raising a KnmError fails that number.
@dataclass
class Plan:
    pn: PhoneNumber
    acquire: bool = False
    disconnect: bool = False
    delete: bool = False
    changed: bool = True
    from_state: str | None = None
    from_owner: str | None = None
    providers: str | None = None          # "save" | "delete": the feature providers' run
    removal: PhoneNumber | None = None     # delete: the number as it was, features and all
    provider_calls: list[str] = field(default_factory=list)   # those that call an API


PlanFn = Callable[[str, "PhoneNumber | None"], Plan]


@dataclass
class Hooks:
    """How the engine rides along an operation (all optional; the CLI uses none).

    finish(pn, outcome): called for every successful number just before it is written; it
        may set private fields (the request's state). With it, a number is written even
        when the operation changed nothing, so the request's outcome is recorded.
    carrier_done: numbers whose carrier action already happened (found by the carrier's
        order lookup after a crash) -> the carrier data to apply instead of calling again.
    gate(module): a context manager around each carrier call (per-carrier concurrency).
    order_reference: the idempotency key carriers send as their order reference.
    preloaded: documents the caller has just read (with their `_rev`): used instead of a
        fetch on the first pass; a conflict makes the next pass fetch them again.
    quote: whether a dry run prices its outcome (the engine's planning pass does not).
    replan_on_conflict: False makes a save conflict the number's outcome (`SaveConflict`)
        instead of a re-read and re-plan (the engine re-reads the request itself).
    carrier_calls: False makes a number that needs a carrier call fail with
        `CarrierCallDeferred`, untouched (the engine claims it first, then calls).
    observe(carrier, action, seconds, error): told about every carrier call, answered or
        not (`error`: the KAZOO error name of a failed one), for metrics.
    before_call(number, action): right before a carrier call, inside the gate (the engine
        fences its lease there; raising stops the call).
    after_call(number, action, carrier_data): right after a carrier call succeeded, before
        anything is written (the engine journals the carrier's answer there).
    before_provider(number, provider): right before a feature provider calls its API (the
        engine proves it still holds its lease there; raising stops the call).
    settle_services: False leaves the service quantities owed (marked) for the engine's
        sweep to reconcile, once per account for many changes, instead of after each run.
    """

    finish: Callable[[PhoneNumber, "Outcome"], None] | None = None
    carrier_done: dict[str, dict[str, Any]] = field(default_factory=dict)
    gate: Callable[[str], Any] | None = None
    order_reference: str | None = None
    replan_on_conflict: bool = True
    preloaded: dict[str, dict[str, Any]] = field(default_factory=dict)
    quote: bool = True
    carrier_calls: bool = True
    observe: Callable[[str, str, float, str | None], None] | None = None
    before_call: Callable[[str, str], None] | None = None
    after_call: Callable[[str, str, dict[str, Any]], None] | None = None
    before_provider: Callable[[str, str], None] | None = None
    settle_services: bool = True


# Fields of a number document that survive its hard delete, on the tombstone.
TOMBSTONE_KEYS = ("pvt_request", "pvt_request_state", "pvt_transitions")


class CarrierCallDeferred(Unspecified):
    """The number needs a carrier call, which the caller wants to make another way."""

    def __init__(self, number: str) -> None:
        super().__init__("carrier_call_deferred", number)


class SaveConflict(Unspecified):
    """The number's document changed while the operation ran, more often than it retries."""

    def __init__(self) -> None:
        super().__init__("database_error",
                         "conflict: the document kept changing during the operation")
