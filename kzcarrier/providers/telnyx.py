"""Telnyx's E911 and CNAM (`knm_telnyx_e911`, `knm_telnyx_cnam`; reference/kazoo-feature-
providers.md §6, §7) over the Telnyx v1 API the carrier module already speaks."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import carriers
from ..errors import ByCarrier, Unspecified
from . import ProviderRun
from .cnam import UpstreamCnam
from .e911 import E911, caller_name, clean

if TYPE_CHECKING:
    from ..model.document import PhoneNumber


class TelnyxE911(E911):
    """`POST e911_addresses`, then `PUT numbers/{did}/e911_settings` with its id."""

    def _telnyx(self) -> Any:
        return carriers.load("knm_telnyx", self.ctx)

    def sandbox(self) -> bool:
        return bool(self._telnyx().configuration().get("sandbox_provisioning"))

    def _body(self, address: dict[str, Any], run: ProviderRun) -> dict[str, Any]:
        body = {"business_name": caller_name(address, run), "city": clean(address["locality"]),
                "state": clean(address["region"]), "postal_code": address["postal_code"],
                "line_1": clean(address["street_address"]),
                "line_2": clean(address.get("extended_address"))}
        return {k: v for k, v in body.items() if v}

    def _settings(self, pn: "PhoneNumber") -> str:
        return f"numbers/{quote(pn.number, safe='')}/e911_settings"

    def register(self, pn: "PhoneNumber", run: ProviderRun, address: dict[str, Any]) -> None:
        telnyx = self._telnyx()
        headers = telnyx._headers()
        body = self._body(address, run)
        run.before_call(pn, self.name)
        now = telnyx.request("GET", self._settings(pn), pn.number, headers=headers)
        current = now.get("e911_address_id") if now.get("e911_enabled") else None
        if current:
            have = telnyx.request("GET", f"e911_addresses/{current}", pn.number,
                                  headers=headers)
            if {k: have.get(k) for k in body} == body:      # registered before: adopt it
                self._done(pn, address, str(current))
                return
        made = telnyx.request("POST", "e911_addresses", pn.number, json=body, headers=headers)
        if made.get("success") is False or made.get("status") != "success" or not made.get("id"):
            raise Unspecified(json.dumps({"message": made.get("message"),
                                          "reasons": made.get("reasons")}), pn.number)
        reply = telnyx.request("PUT", self._settings(pn), pn.number, headers=headers,
                               json={"e911_enabled": True, "e911_address_id": made["id"]})
        if reply.get("success") is False:
            raise Unspecified(json.dumps({"message": reply.get("message"),
                                          "reasons": reply.get("reasons")}), pn.number)
        if current and str(current) != str(made["id"]):
            self._forget(telnyx, pn, str(current))
        self._done(pn, address, str(made["id"]))

    @staticmethod
    def _done(pn: "PhoneNumber", address: dict[str, Any], address_id: str) -> None:
        pn.carrier_data = {**pn.carrier_data, "address_id": address_id}
        pn.set_feature("e911", address)

    @staticmethod
    def _forget(telnyx: Any, pn: "PhoneNumber", address_id: str) -> None:
        try:                                   # tidiness only: an old address costs nothing
            telnyx.request("DELETE", f"e911_addresses/{address_id}", pn.number,
                           headers=telnyx._headers())
        except ByCarrier:
            pass

    def remove(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        telnyx = self._telnyx()
        run.before_call(pn, self.name)
        telnyx.request("PUT", self._settings(pn), pn.number, headers=telnyx._headers(),
                       json={"e911_enabled": False, "e911_address_id": None})
        old = pn.carrier_data.get("address_id")
        if old:
            self._forget(telnyx, pn, str(old))
            data = pn.carrier_data
            data.pop("address_id", None)
            pn.carrier_data = data


class TelnyxCnam(UpstreamCnam):
    """`PUT numbers/{did}` with `cnam_listing_details` / `enable_caller_id_name`, after a
    `GET` of the same: what Telnyx has already is not sent again."""

    def push(self, pn: "PhoneNumber", run: ProviderRun, now: tuple[str | None, bool],
             before: tuple[str | None, bool]) -> None:
        name, inbound = now
        telnyx = carriers.load("knm_telnyx", self.ctx)
        path = f"numbers/{quote(pn.number, safe='')}"
        body: dict[str, Any] = {"enable_caller_id_name": bool(inbound or name)}
        if name:
            body["cnam_listing_details"] = name
        run.before_call(pn, self.name)
        have = telnyx.request("GET", path, pn.number, headers=telnyx._headers())
        if all(have.get(k) == v for k, v in body.items()):
            return                                 # already so at Telnyx: nothing to call
        telnyx.request("PUT", path, pn.number, json=body, headers=telnyx._headers())
