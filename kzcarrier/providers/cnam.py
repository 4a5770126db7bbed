"""CNAM: outbound caller name and inbound lookup (reference/kazoo-feature-providers.md §4.6,
§7). `knm_cnam_notifier` only records the features (KAZOO also casts a `cnam_request`
notification for a person to act on); `knm_telnyx_cnam` sets them at Telnyx, asking first
what Telnyx has so a repeated save calls nothing."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Invalid
from . import UPSTREAM_STATES, Provider, ProviderRun

if TYPE_CHECKING:
    from ..model.document import PhoneNumber


def wanted(pn: "PhoneNumber") -> tuple[str | None, bool]:
    """(outbound display name or None, inbound lookup) from the public `cnam`."""
    cnam = pn.public("cnam")
    cnam = cnam if isinstance(cnam, dict) else {}
    name = cnam.get("display_name")
    return (str(name) if name else None), cnam.get("inbound_lookup") is True


def stored(pn: "PhoneNumber") -> tuple[str | None, bool]:
    out = pn.feature("outbound_cnam")
    name = out.get("display_name") if isinstance(out, dict) else None
    return name, isinstance(pn.feature("inbound_cnam"), dict)


class CnamNotifier(Provider):
    """Record only: `pvt_features.outbound_cnam` / `inbound_cnam`."""

    def check(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        cnam = pn.public("cnam")
        if cnam is None:
            return
        if not isinstance(cnam, dict):
            raise Invalid("cnam must be an object")
        name = cnam.get("display_name")
        if name is not None and not (isinstance(name, str) and 1 <= len(name) <= 15):
            raise Invalid("cnam.display_name must be 1 to 15 characters")
        if "inbound_lookup" in cnam and not isinstance(cnam["inbound_lookup"], bool):
            raise Invalid("cnam.inbound_lookup must be true or false")

    def save(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        if pn.state not in UPSTREAM_STATES:
            return
        name, inbound = wanted(pn)
        self.apply(pn, name, inbound)

    @staticmethod
    def apply(pn: "PhoneNumber", name: str | None, inbound: bool) -> None:
        pn.set_feature("outbound_cnam", {"display_name": name} if name else None)
        pn.set_feature("inbound_cnam", {"inbound_lookup": True} if inbound else None)
        pn.set_feature("cnam", None)           # the legacy private key

    def delete(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        for key in ("inbound_cnam", "outbound_cnam", "cnam"):
            pn.set_feature(key, None)


class UpstreamCnam(CnamNotifier):
    """A CNAM provider with an API: `push` is called with the wanted and the stored values
    when they differ (never on a dry run), then the features are recorded."""

    upstream = True

    def pending(self, pn: "PhoneNumber") -> bool:
        return pn.state in UPSTREAM_STATES and wanted(pn) != stored(pn)

    def save(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        if pn.state not in UPSTREAM_STATES:
            return
        now, before = wanted(pn), stored(pn)
        if now != before and not run.dry_run:
            self.push(pn, run, now, before)
        self.apply(pn, *now)

    def delete(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        before = stored(pn)
        if before != (None, False) and not run.dry_run:
            self.push(pn, run, (None, False), before)
        super().delete(pn, run)

    def push(self, pn: "PhoneNumber", run: ProviderRun, now: tuple[str | None, bool],
             before: tuple[str | None, bool]) -> None:
        raise NotImplementedError
