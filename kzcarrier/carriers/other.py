"""`knm_other`: a generic "phonebook" middleware over HTTP (reference §5.8), for carriers
reached through an operator's own service. kzcarrier adds the request id as the order's
`reference`, an order lookup through the status check, and a real release
(`DELETE numbers/{country}/{number}`; KAZOO's disconnect is a no-op).
Config `number_manager.other`: `phonebook_url` (required), `default_country` (US),
`endpoints` (string or list).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..errors import ByCarrier, Unspecified
from ..numbers import to_npan
from .http import HttpCarrier


class Other(HttpCarrier):
    url_key = "phonebook_url"
    maximal_prefix_length = 10

    def _country(self, options: dict[str, Any] | None = None) -> str:
        return str((options or {}).get("country") or
                   self.configuration().get("default_country") or "US")

    def _ready(self, number: str | None = None) -> None:
        if not self.configuration().get("phonebook_url"):
            if number:
                raise Unspecified("missing_provider_url", number)
            raise ByCarrier(None, self.name, "not configured: number_manager.other needs "
                            "phonebook_url")

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        self._ready()
        country = self._country(options)
        if options.get("blocks"):
            reply = self.request("GET", f"blocks/{country}/search", params={
                "prefix": prefix, "size": quantity, "offset": options.get("offset", 0),
                "limit": options["blocks"]})
            return {b["start_number"]: b for b in self._data(reply) or []
                    if isinstance(b, dict) and b.get("start_number")}
        reply = self.request("GET", f"numbers/{country}/search", params={
            "prefix": prefix, "limit": quantity, "offset": options.get("offset", 0)})
        return dict(self._data(reply) or {})

    def _data(self, reply: Any) -> Any:
        if not isinstance(reply, dict) or reply.get("status") != "success":
            raise ByCarrier(None, self.name, "not_available")
        return reply.get("data")

    def check_numbers(self, numbers: list[str]) -> dict[str, str]:
        self._ready()
        reply = self.request("POST", f"numbers/{self._country()}/status",
                             json={"data": [to_npan(n) for n in numbers]})
        by_npan = {to_npan(n): n for n in numbers}
        out = {}
        for item in self._data(reply) or []:
            num = by_npan.get(to_npan(str(item.get("number", ""))))
            if num:
                out[num] = str(item.get("status"))
        return out

    def acquire_number(self, pn: Any) -> Any:
        self._ready(pn.number)
        endpoints = self.configuration().get("endpoints") or []
        reply = self.request("PUT", f"numbers/{self._country()}/order", pn.number, json={
            "data": {"numbers": [pn.number], "reference": pn.order_reference,
                     "gateways": endpoints if isinstance(endpoints, list) else [endpoints]}})
        result = ((reply or {}).get("data") or {}).get(pn.number) or {}
        if result.get("status") != "success":
            raise ByCarrier(pn.number, self.name,
                            f"lookup_resp_error: {result.get('message') or result}")
        if result.get("opaque"):
            pn.carrier_data = {**pn.carrier_data, **result["opaque"]}
        if result.get("locality"):
            feats = pn.features
            feats["locality"] = result["locality"]
            pn.features = feats
        return pn

    def disconnect_number(self, pn: Any) -> Any:
        self._ready(pn.number)
        self.release("DELETE", f"numbers/{self._country()}/{quote(pn.number, safe='')}",
                     pn.number)
        return pn

    def lookup_order(self, pn: Any, request_id: str, action: str) -> dict[str, Any] | None:
        if action != "acquire":
            return None
        status = self.check_numbers([pn.number]).get(pn.number)
        return {} if status == "in_service" else None
