"""The whole kzcarrier exception tree.

Number-level failures carry KAZOO's error object (`knm_errors:to_json`): the shape
`{code, error, message, cause}` that ends up in `pvt_request_state.error` and in the CLI's
`--json` output. Foreign errors (ibmcloudant's ApiException, httpx, jsonschema) are
converted at the module that meets them and re-raised `from` the original.

    KzError
    ├── KnmError                      KAZOO's knm_errors, one class per `error` name
    │   ├── NumberExists              409 number_exists
    │   ├── Forbidden                 403 forbidden            (knm `unauthorized`)
    │   ├── InvalidStateTransition    400 invalid_state_transition
    │   ├── NoChangeRequired          400 no_change_required
    │   ├── AssignFailure             400 assign_failure
    │   ├── NotFound                  404 not_found
    │   ├── NotReconcilable           404 not_reconcilable
    │   ├── NumberIsPorting           400 number_is_porting
    │   ├── ServiceRestriction        402 service_restriction
    │   ├── Invalid                   400 invalid
    │   ├── ByCarrier                 500 unspecified_fault    (carrier's reason kept)
    │   ├── Unspecified               500 unspecified_fault    (database_error, ...)
    │   └── InternalError             500 internal_error
    ├── StorageError                  CouchDB said no
    │   ├── CouchUnavailable          cannot reach CouchDB (transient)
    │   ├── DocConflict               409 on a write
    │   └── DocNotFound               404 on a read
    ├── ConfigError                   unknown category, bad value
    ├── SchemaError                   a document or request fails its JSON Schema
    └── InvalidNumber                 a string that is no usable E.164 number
"""
from __future__ import annotations

from typing import Any


class KzError(Exception):
    """Base of every kzcarrier error. `transient` errors are worth a retry."""

    code = 500
    error = "unspecified_fault"
    transient = False

    def __init__(self, message: str | None = None, cause: Any = None):
        self.message = message if message is not None else self.default_message()
        self.cause = cause
        super().__init__(self.message if cause is None else f"{self.message}: {cause}")

    def default_message(self) -> str:
        return self.error.replace("_", " ")

    def to_json(self) -> dict[str, Any]:
        """KAZOO's error object; `cause` is omitted when unset, as knm_errors does."""
        out: dict[str, Any] = {"code": self.code, "error": self.error, "message": self.message}
        if self.cause is not None:
            out["cause"] = self.cause
        return out


class KnmError(KzError):
    """A per-number failure in KAZOO's catalogue (reference/kazoo-errors.md §2)."""


class NumberExists(KnmError):
    code, error = 409, "number_exists"

    def __init__(self, number: str):
        super().__init__(f"number {number} already exists", number)


class Forbidden(KnmError):
    code, error = 403, "forbidden"

    def __init__(self, cause: str | None = None):
        super().__init__("requestor is unauthorized to perform operation", cause)


class InvalidStateTransition(KnmError):
    code, error = 400, "invalid_state_transition"

    def __init__(self, from_state: str | None = None, to_state: str | None = None):
        cause = None
        if to_state is not None:
            cause = f"from {from_state or '(nothing)'} to {to_state}"
        super().__init__("invalid state transition", cause)


class NoChangeRequired(KnmError):
    code, error = 400, "no_change_required"

    def __init__(self) -> None:
        super().__init__("no change required")


class AssignFailure(KnmError):
    code, error = 400, "assign_failure"

    def __init__(self, cause: Any = "field_undefined"):
        super().__init__("invalid account to assign to", cause)


class NotFound(KnmError):
    code, error = 404, "not_found"

    def __init__(self, number: str):
        super().__init__(f"number {number} not found", number)


class NotReconcilable(KnmError):
    code, error = 404, "not_reconcilable"

    def __init__(self, number: str):
        super().__init__(f"number {number} is not reconcilable", number)


class NumberIsPorting(KnmError):
    code, error = 400, "number_is_porting"

    def __init__(self, number: str):
        super().__init__(f"number {number} is porting", number)


class ServiceRestriction(KnmError):
    code, error = 402, "service_restriction"

    def __init__(self, number: str, message: str):
        super().__init__(message, number)


class AcceptCharges(KnmError):
    """The change costs money and the request did not accept it: crossbar's 402 handshake.
    `cause` is the quote; repeat the request with `accept_charges: true`."""

    code, error = 402, "accept_charges"

    def __init__(self, quote: list[Any]):
        super().__init__("accept charges", quote)


class Invalid(KnmError):
    code, error = 400, "invalid"

    def __init__(self, reason: Any):
        super().__init__("invalid", reason)


class ByCarrier(KnmError):
    """A carrier call failed. KAZOO only logs the carrier's reason; we keep it."""

    code, error = 500, "unspecified_fault"

    def __init__(self, number: str | None, carrier: str, reason: str, transient: bool = False,
                 retry_after: float | None = None, nothing_done: bool = False):
        super().__init__("fault by carrier", number or "unknown")
        self.carrier = carrier
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        # True only when the answer proves the carrier did nothing (429, 503, a refused
        # connection): the call may be made again without asking the carrier first.
        self.nothing_done = nothing_done

    def __str__(self) -> str:
        return f"fault by carrier {self.carrier}: {self.reason} (number {self.cause})"

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out["carrier"] = self.carrier
        out["carrier_reason"] = self.reason
        return out


class CarrierNotInstalled(KnmError):
    """The number's carrier module is not installed on this worker: failing is the only
    safe answer (KAZOO skips it, and the number would change hands with no purchase)."""

    code, error = 500, "carrier_not_installed"

    def __init__(self, number: str, module: str, available: list[str]):
        super().__init__(f"carrier module {module} is not installed on this worker "
                         f"(installed: {', '.join(available)})", number)


class Unspecified(KnmError):
    """KAZOO's catch-all: the reason becomes the message (`database_error`, ...)."""

    code, error = 500, "unspecified_fault"

    def __init__(self, reason: str, cause: Any = None):
        super().__init__(reason, cause)


class InternalError(KnmError):
    code, error = 500, "internal_error"


class StorageError(KzError):
    """CouchDB refused or failed a request; `status` is its HTTP status (0: no answer)."""

    error = "database_error"

    def __init__(self, message: str, status: int = 0, reason: str | None = None):
        super().__init__(message, reason)
        self.status = status


class CouchUnavailable(StorageError):
    transient = True


class DocConflict(StorageError):
    code, error = 409, "conflict"


class DocNotFound(StorageError):
    code, error = 404, "not_found"


class ConfigError(KzError):
    code, error = 400, "invalid_config"


class SchemaError(KzError):
    """A document failed validation; `errors` lists `(field path, problem)` pairs."""

    code, error = 400, "validation_error"

    def __init__(self, what: str, errors: list[tuple[str, str]]):
        self.errors = errors
        detail = "; ".join(f"{path or '(document)'}: {problem}" for path, problem in errors)
        super().__init__(f"{what} is invalid", detail)


class InvalidNumber(KzError):
    code, error = 400, "invalid_number"

    def __init__(self, number: Any, problem: str):
        super().__init__(f"invalid number {number!r}", problem)
        self.number = number
