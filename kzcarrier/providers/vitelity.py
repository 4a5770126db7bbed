"""Vitelity's E911 and CNAM (`knm_vitelity_e911`, `knm_vitelity_cnam`; reference/kazoo-
feature-providers.md §8, §9) over the `api.php` the carrier module already speaks."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .. import carriers
from ..errors import ByCarrier, Invalid
from . import ProviderRun
from .cnam import UpstreamCnam
from .e911 import E911, caller_name, clean

if TYPE_CHECKING:
    from ..model.document import PhoneNumber


class VitelityE911(E911):
    """`e911send` / `e911delete`, asked first with `e911getinfo`. KAZOO stored Vitelity's
    answer (so every later save sent the address again) and left `state` out for two-letter
    regions; here the address is stored and the state sent."""

    def _vitelity(self) -> Any:
        return carriers.load("knm_vitelity", self.ctx)

    @staticmethod
    def _params(pn: "PhoneNumber", address: dict[str, Any], run: ProviderRun) -> dict[str, Any]:
        unit = str(address.get("extended_address") or "").split(" ", 1)
        return {"did": pn.number[2:], "name": address.get("customer_name")
                or caller_name(address, run), "address": address["street_address"],
                "unittype": unit[0], "unitnumber": unit[1] if len(unit) > 1 else "",
                "city": address["locality"], "state": address["region"],
                "zip": address["postal_code"]}

    def validate(self, pn: "PhoneNumber", address: dict[str, Any]) -> None:
        params = {k: v for k, v in self._params(pn, address, ProviderRun()).items()
                  if k in ("name", "address", "city", "state", "zip")}
        try:
            self._vitelity()._call({"cmd": "e911checkaddress", **params}, pn.number)
        except ByCarrier as exc:
            if exc.transient:
                raise
            raise Invalid(f"{exc.reason} ({json.dumps(address, sort_keys=True)})") from None

    def register(self, pn: "PhoneNumber", run: ProviderRun, address: dict[str, Any]) -> None:
        vitelity = self._vitelity()
        params = self._params(pn, address, run)
        run.before_call(pn, self.name)
        try:
            info = vitelity._call({"cmd": "e911getinfo", "did": params["did"]}, pn.number)
            have = {el.tag: el.text or "" for el in info.find("info") or []}
        except ByCarrier as exc:
            if exc.transient:
                raise
            have = {}                                  # nothing registered for it
        if all(clean(have.get(k)) == clean(params[k]) for k in ("address", "city", "zip")):
            pn.set_feature("e911", address)            # registered before: adopt it
            return
        vitelity._call({"cmd": "e911send", **params}, pn.number)
        pn.set_feature("e911", address)

    def remove(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        run.before_call(pn, self.name)
        try:
            self._vitelity()._call({"cmd": "e911delete", "did": pn.number[2:]}, pn.number)
        except ByCarrier as exc:
            if exc.transient:
                raise


class VitelityCnam(UpstreamCnam):
    """`lidb` for the outbound name, `cnamenable` / `cnamdisable` for inbound lookup, each
    only when it changes (KAZOO sent the inbound one on every save). Vitelity cannot be
    asked what a number has; both commands set a value, so repeating one after a crash
    leaves the same state."""

    def push(self, pn: "PhoneNumber", run: ProviderRun, now: tuple[str | None, bool],
             before: tuple[str | None, bool]) -> None:
        vitelity = carriers.load("knm_vitelity", self.ctx)
        if now[0] and now[0] != before[0]:
            run.before_call(pn, self.name)
            vitelity._call({"cmd": "lidb", "did": pn.number[2:], "name": now[0]}, pn.number)
        if now[1] != before[1]:
            run.before_call(pn, self.name)
            vitelity._call({"cmd": "cnamenable" if now[1] else "cnamdisable",
                            "did": pn.number[2:]}, pn.number)
