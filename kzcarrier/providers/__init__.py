"""Feature providers: the Python form of KAZOO's `knm_gen_provider`, and their registry.

A provider is a class registered in the `kzcarrier.providers` entry-point group under its
KAZOO module name (`knm_prepend = kzcarrier.providers.internal:Prepend`), like carriers.
It owns some keys of `pvt_features` and is run by `runner.Features` on every save of a
number (create, move, reserve, update) and on its hard delete:

    check(pn, run)      validate the request before any carrier is called (no side effect
                        outside this process, except read-only questions to an API)
    save(pn, run)       bring `pvt_features` (and the provider's side) in line with the
                        public fields; an upstream provider calls `run.before_call` first
    delete(pn, run)     undo at the provider, drop the private features
    pending(pn) -> bool whether `save` would call an API (the engine then takes a lease)

Upstream providers (E911, CNAM over HTTP) are idempotent by construction: before changing
anything they ask the provider what the number has now, and call only if that differs
(reference/kazoo-feature-providers.md, design_docs/features.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .. import plugins
from ..carriers import CarrierContext, module_name

if TYPE_CHECKING:
    from ..model.document import PhoneNumber

GROUP = "kzcarrier.providers"
UPSTREAM_STATES = ("reserved", "in_service", "port_in")   # where E911/CNAM are kept


@dataclass
class ProviderRun:
    """One run of the providers over one number."""

    auth_by: str | None = "system"
    is_admin: bool = True
    dry_run: bool = False
    account_name: str | None = None
    # called right before any call to a provider's API (the engine fences its lease)
    fence: Callable[[str, str], None] | None = None

    def before_call(self, pn: "PhoneNumber", provider: str) -> None:
        if self.fence is not None:
            self.fence(pn.number, provider)


class Provider:
    name = "knm_provider"
    upstream = False            # True: talks to an API outside CouchDB

    def __init__(self, ctx: CarrierContext):
        self.ctx = ctx

    def check(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        return None

    def save(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        raise NotImplementedError

    def delete(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        return None

    def pending(self, pn: "PhoneNumber") -> bool:
        return False

    def configuration(self) -> dict[str, Any]:
        short = self.name[4:] if self.name.startswith("knm_") else self.name
        return self.ctx.config.section(f"number_manager.{short}")


def available() -> list[str]:
    return sorted(plugins.discover(GROUP))


def load(name: str, ctx: CarrierContext) -> Provider | None:
    """The provider registered as `name`, or None (KAZOO skips a module it cannot load)."""
    key = module_name(name)
    found = plugins.discover(GROUP)
    if key not in found:
        found = plugins.discover(GROUP, refresh=True)
    if key not in found:
        return None
    cls = found[key].load()
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        return None
    provider = cls(ctx)
    provider.name = key
    return provider
