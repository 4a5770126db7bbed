"""`knm_providers`: which providers a save or a hard delete runs, with KAZOO's permission
rules (reference/kazoo-feature-providers.md §2, §3).

`check` runs while the operation plans (before any carrier call): a requested feature the
number may not have fails it with 403, and each provider validates what it was given.
`save` and `delete` run after the carrier call, before the write.
"""
from __future__ import annotations

import time
from typing import Any

from ..carriers import CarrierContext
from ..errors import Forbidden
from ..model import features as F
from ..model.auth import is_true
from ..model.config import NUMBER_MANAGER, Config
from ..model.document import LOCAL_MODULES, PhoneNumber
from . import Provider, ProviderRun, load


def _dig(section: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = section
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


class Features:
    def __init__(self, config: Config, ctx: CarrierContext):
        self.config = config
        self.ctx = ctx
        self._providers: dict[str, Provider | None] = {}
        # what `from_reseller` found, and when: a batch asks it four times a number, and an
        # account's reading costs copies of its documents (read only: not modified)
        self._found: dict[tuple[str, tuple[str, ...]], tuple[float, Any]] = {}

    def provider(self, module: str) -> Provider | None:
        if module not in self._providers:
            self._providers[module] = load(module, self.ctx)
        return self._providers[module]

    # --- configuration, as KAZOO reads it ------------------------------------------------

    def from_reseller(self, account: str | None, *path: str) -> Any:
        """`get_from_reseller`: the reseller's `configs_number_manager` (never the account's
        own), else the system's section (node, zone, default)."""
        key, now = (account or "", path), time.monotonic()
        hit = self._found.get(key)
        if hit is None or now - hit[0] >= self.config.ttl:   # as fresh as the config's cache
            hit = self._found[key] = (now, self._from_reseller(account, path))
        return hit[1]

    def _from_reseller(self, account: str | None, path: tuple[str, ...]) -> Any:
        doc = self.config.account(account) if account else None
        reseller = (doc or {}).get("pvt_reseller_id")
        if reseller and reseller != account:
            value = _dig(self.config.account_section(reseller, NUMBER_MANAGER), path)
            if value is not None:
                return value
        return _dig(self.config.section(NUMBER_MANAGER), path)

    def permissions(self, pn: PhoneNumber, is_admin: bool) -> F.Permissions:
        owner = pn.assigned_to
        system = self.config.section(NUMBER_MANAGER)
        system_allowed = (_dig(system, ("features", "allow")) or system.get("providers")
                          or list(F.ALL))
        return F.Permissions(
            number_allowed=list(pn.get("pvt_features_allowed") or []),
            number_denied=list(pn.get("pvt_features_denied") or []),
            reseller_allowed=self.from_reseller(owner, "features", "allow") if owner else None,
            reseller_denied=self.from_reseller(owner, "features", "deny") if owner else None,
            system_allowed=list(system_allowed),
            local_feature_override=is_true(system.get("local_feature_override")),
            is_admin=is_admin)

    def available(self, pn: PhoneNumber, is_admin: bool) -> list[str]:
        local = pn.module_name in LOCAL_MODULES or "local" in pn.features
        return F.available_features(self.permissions(pn, is_admin), bool(pn.assigned_to),
                                    local, pn.used_by)

    def modules(self, pn: PhoneNumber, names: list[str]) -> list[str]:
        owner = pn.assigned_to
        cnam = (self.from_reseller(owner, "cnam_provider") if owner else None) \
            or F.DEFAULT_CNAM_PROVIDER
        e911 = (self.from_reseller(owner, "e911_provider") if owner else None) \
            or F.DEFAULT_E911_PROVIDER
        return sorted({F.provider_module(n, cnam, e911) for n in names})

    # --- the runs ------------------------------------------------------------------------

    def _to_run(self, pn: PhoneNumber, run: ProviderRun) -> list[Provider]:
        """The providers of the requested features; 403 if one is not available."""
        requested = F.requested_features(pn.public_fields, pn.features)
        available = self.available(pn, run.is_admin)
        if F.denied_requests(requested, available):
            raise Forbidden()
        allowed = [f for f in F.cleanse(requested) if f in available]
        found = [self.provider(m) for m in self.modules(pn, allowed)]
        return [p for p in found if p is not None]    # e.g. "ringback": no module, skipped

    def check(self, pn: PhoneNumber, run: ProviderRun) -> list[str]:
        """Permissions and validation; the providers that would call an API."""
        pn.set_feature("im", None)                     # deprecated: dropped on every save
        providers = self._to_run(pn, run)
        for provider in providers:
            provider.check(pn, run)
        return [p.name for p in providers if p.upstream and p.pending(pn)]

    def save(self, pn: PhoneNumber, run: ProviderRun) -> None:
        providers = self._to_run(pn, run)
        rename = [p for p in providers if p.name == "knm_rename_carrier"]
        if rename:
            rename[0].save(pn, run)                     # first, then what it made denied
            self._drop_denied(pn, run.is_admin)
            providers = self._to_run(pn, run)
        for provider in providers:
            if provider.name != "knm_rename_carrier":
                provider.save(pn, run)

    def _drop_denied(self, pn: PhoneNumber, is_admin: bool) -> None:
        """`remove_denied_features`: after a carrier rename, what the new carrier may not
        have goes, public and private."""
        available = set(self.available(pn, is_admin))
        for name in F.requested_features(pn.public_fields, pn.features):
            if F.cleanse([name])[0] not in available and name not in F.NOT_CHECKED:
                pn.set_feature(name, None)
                pn.set_public({"inbound_cnam": "cnam", "outbound_cnam": "cnam"}.get(name, name),
                              None)

    def delete(self, pn: PhoneNumber, run: ProviderRun) -> None:
        """A hard delete: every requested provider's `delete`, no permission check."""
        requested = F.cleanse(F.requested_features(pn.public_fields, pn.features))
        for module in self.modules(pn, requested):
            provider = self.provider(module)
            if provider is not None:
                provider.delete(pn, run)
