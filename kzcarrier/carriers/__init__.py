"""Carrier modules: the Python form of KAZOO's `knm_gen_carrier` behaviour, and the registry.

A carrier is a class registered in the `kzcarrier.carriers` entry-point group under its
KAZOO module name (`knm_local = kzcarrier.carriers.local:Local`). The built-ins register
exactly like a third-party package would; `load("local")` and `load("knm_local")` both work,
and an unknown name raises `UnknownCarrier` listing the available ones.

A carrier instance gets a `CarrierContext` (CouchDB, configuration, an httpx client
factory) and implements:

    find_numbers(prefix, quantity, options) -> {e164: carrier_data}
    acquire_number(pn) -> pn              buy; never called on a dry run
    disconnect_number(pn) -> pn           release at the carrier
    check_numbers(numbers) -> {e164: status}
    is_number_billable(pn) / should_lookup_cnam() / is_local() / configuration() / info()
    lookup_order(pn, request_id, action) -> dict | None   did that order already happen?

Failures are raised as KAZOO errors (`errors.ByCarrier` for the carrier's own faults).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import httpx

from .. import plugins
from ..errors import ByCarrier, KzError

if TYPE_CHECKING:
    from ..couch.client import Couch
    from ..model.config import Config
    from ..model.document import PhoneNumber

GROUP = "kzcarrier.carriers"


class UnknownCarrier(KzError):
    code, error = 400, "unknown_carrier"

    def __init__(self, name: str, available: list[str]):
        super().__init__(f"unknown carrier {name!r}", "available: " + ", ".join(available))
        self.name = name


class OrderUnknown(KzError):
    """The carrier cannot say whether an interrupted order went through."""

    code, error = 500, "carrier_state_unknown"

    def __init__(self, number: str, carrier: str):
        super().__init__(f"{carrier} cannot tell whether the interrupted order for {number} "
                         "went through; check at the carrier, then `kzcarrier request retry`",
                         number)


class OrderPending(KzError):
    """The carrier has the interrupted order and it is not final yet (received, processing):
    wait for it, never order again."""

    code, error = 500, "order_pending"
    transient = True

    def __init__(self, number: str, carrier: str, status: str):
        super().__init__(f"{carrier} is still processing the order for {number} ({status})",
                         number)


@dataclass
class CarrierContext:
    couch: "Couch"
    config: "Config"
    http: Callable[..., httpx.Client] = field(default=lambda **kw: httpx.Client(**kw))


def short_name(module_name: str) -> str:
    return module_name[4:] if module_name.startswith("knm_") else module_name


def module_name(name: str) -> str:
    return name if name.startswith("knm_") else f"knm_{name}"


class Carrier:
    """Defaults follow `knm_gen_carrier`: an external, billable carrier with no search."""

    name = "knm_carrier"
    maximal_prefix_length = 3
    search_state = "discovery"  # what its search results are: to buy ("discovery") or not

    def __init__(self, ctx: CarrierContext):
        self.ctx = ctx

    # --- the behaviour -------------------------------------------------------------------

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        raise ByCarrier(None, self.name, "not_implemented")

    def acquire_number(self, pn: "PhoneNumber") -> "PhoneNumber":
        raise ByCarrier(pn.number, self.name, "not_implemented")

    def disconnect_number(self, pn: "PhoneNumber") -> "PhoneNumber":
        raise ByCarrier(pn.number, self.name, "not_implemented")

    def check_numbers(self, numbers: list[str]) -> dict[str, str]:
        raise ByCarrier(None, self.name, "not_implemented")

    def is_number_billable(self, pn: "PhoneNumber") -> bool:
        return True

    def should_lookup_cnam(self) -> bool:
        return True

    def is_local(self) -> bool:
        return False

    def longest_call_s(self) -> float:
        """How long one acquire or disconnect may take at most (0: no call leaves this
        process). A claim's lease must outlast it (design_docs/engine.md)."""
        return 0.0

    def keeps_number_on_release(self) -> bool:
        """False: `disconnect_number` gives the number back to the carrier, so the platform
        no longer owns it and the release deletes its document (taking it again buys it)."""
        return False

    def configuration(self) -> dict[str, Any]:
        """The carrier's `number_manager.<carrier>` section (node, else default)."""
        return self.ctx.config.section(f"number_manager.{short_name(self.name)}")

    def info(self) -> dict[str, Any]:
        return {"maximal_prefix_length": self.maximal_prefix_length}

    def lookup_order(self, pn: "PhoneNumber", request_id: str, action: str,
                     ) -> dict[str, Any] | None:
        """Exactly-once support, asked after a crash between a carrier call and its
        write-back: did `action` ("acquire" or "disconnect") for `request_id` happen?
        Return the carrier data of the order if it did, None if it certainly did not (or
        the order failed for good); raise OrderPending while the carrier still works on it,
        OrderUnknown when the carrier cannot tell (the engine then fails the request
        instead of risking a second purchase)."""
        raise OrderUnknown(pn.number, self.name)


class DbCarrier(Carrier):
    """A carrier that lives in CouchDB only: nothing to buy or release, trivially idempotent."""

    maximal_prefix_length = 10

    def acquire_number(self, pn: "PhoneNumber") -> "PhoneNumber":
        return pn

    def disconnect_number(self, pn: "PhoneNumber") -> "PhoneNumber":
        return pn

    def is_number_billable(self, pn: "PhoneNumber") -> bool:
        return False

    def is_local(self) -> bool:
        return True

    def keeps_number_on_release(self) -> bool:
        return True

    def lookup_order(self, pn: "PhoneNumber", request_id: str, action: str,
                     ) -> dict[str, Any] | None:
        return None  # repeating a DB-only action is harmless: just do it again


def _discover(refresh: bool = False) -> dict[str, Any]:
    """The installed carriers by module name."""
    return plugins.discover(GROUP, refresh)


def available() -> list[str]:
    return sorted(_discover())


def carrier_class(name: str) -> type[Carrier]:
    found = _discover()
    key = module_name(name)
    if key not in found:
        found = _discover(refresh=True)
    if key not in found:
        raise UnknownCarrier(name, sorted(found))
    cls = found[key].load()
    if not (isinstance(cls, type) and issubclass(cls, Carrier)):
        raise UnknownCarrier(name, sorted(found))
    return cls


def load(name: str, ctx: CarrierContext) -> Carrier:
    cls = carrier_class(name)
    carrier = cls(ctx)
    carrier.name = module_name(name)
    return carrier
