"""`knm_telnyx`: the Telnyx "origination" API, as KAZOO's knm_telnyx uses it
(reference/kazoo-carrier-modules.md §5.3), plus what KAZOO lacks: the request id travels as
the order's `customer_reference` and orders are looked up by it (exactly once), and
`disconnect_number` really releases the number (`DELETE numbers/{e164}`; KAZOO makes no call).
Config `number_manager.telnyx`: `user`, `token`, `enable_provisioning` (true),
`sandbox_provisioning` (false), `should_keep_best_effort`, `should_filter_rates`,
`upfront_cost`, `monthly_recurring_cost`, `debug`, and `api_url` (kzcarrier's key;
default https://api.telnyx.com/origination).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..errors import ByCarrier
from ..numbers import DIALCODES, US_TOLLFREE_NPAS
from . import OrderPending
from .http import HttpCarrier


class Telnyx(HttpCarrier):
    default_url = "https://api.telnyx.com/origination"
    maximal_prefix_length = 3

    def _headers(self) -> dict[str, str]:
        cfg = self.configuration()
        if not cfg.get("user") or not cfg.get("token"):
            raise ByCarrier(None, self.name, "not configured: number_manager.telnyx needs "
                            "user and token")
        return {"x-api-user": str(cfg.get("user") or ""),
                "x-api-token": str(cfg.get("token") or ""), "Accept": "application/json"}

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        digits = prefix.lstrip("+")
        if prefix.startswith("+1") and digits[1:4] in US_TOLLFREE_NPAS:
            kind, desc = 3, {"prefix": digits[1:4]}
        elif prefix.startswith("+1") and len(digits) >= 4:
            desc = {"npa": digits[1:4]}
            if len(digits) >= 7:
                desc["nxx"] = digits[4:7]
            kind = 1
        else:
            kind, desc = 2, {"country_iso": str(options.get("country") or "US")}
        body = {"search_type": kind, "search_descriptor": desc, "limit": quantity,
                "with_result": True}
        reply = self.request("POST", "number_searches", json=body, headers=self._headers())
        return self._results(reply, kind, options)

    def _results(self, reply: dict[str, Any], kind: int, options: dict[str, Any],
                 ) -> dict[str, dict[str, Any]]:
        cfg = self.configuration()
        limit = int(reply.get("limit") or 100)
        entries = list(reply.get("result") or [])[:limit]
        if reply.get("any_best_effort") and not cfg.get("should_keep_best_effort"):
            entries = [e for e in entries if not e.get("best_effort")]
        if cfg.get("should_filter_rates"):
            up, monthly = float(cfg.get("upfront_cost", 1.0)), float(
                cfg.get("monthly_recurring_cost", 1.0))
            entries = [e for e in entries if float(e.get("upfront_cost") or 0) == up
                       and float(e.get("monthly_recurring_cost") or 0) == monthly]
        out = {e["number_e164"]: e for e in entries if e.get("number_e164")}
        if kind == 2:
            dial = DIALCODES.get(str(options.get("country") or "US").upper(), "+1")
            for e in list(reply.get("inexplicit_result") or [])[:limit]:
                code = str(e.get("area_code") or "")
                if code:
                    # KAZOO's "ugly hack", kept for parity: dial code and area code
                    # right-padded with 0 to 9 characters (+44 1631 -> +44163100)
                    out[(dial + code).ljust(9, "0")] = e
        return out

    def acquire_number(self, pn: Any) -> Any:
        if not self.provisioning_allowed(pn):
            return pn
        body = {"requested_numbers": [pn.number]}
        if pn.order_reference:
            body["customer_reference"] = pn.order_reference
        reply = self.request("POST", "number_orders", pn.number, json=body,
                             headers=self._headers())
        if not reply.get("id"):
            raise ByCarrier(pn.number, self.name, str(reply.get("message") or "no order id"))
        pn.carrier_data = {**pn.carrier_data, "order_id": reply["id"]}
        return pn

    def disconnect_number(self, pn: Any) -> Any:
        if not self.provisioning_allowed(pn):
            return pn
        self.release("DELETE", f"numbers/{quote(pn.number, safe='')}", pn.number,
                     headers=self._headers())
        return pn

    def lookup_order(self, pn: Any, request_id: str, action: str) -> dict[str, Any] | None:
        if action != "acquire":
            return None  # releasing twice is harmless: not_found counts as released
        reply = self.request("GET", "number_orders", pn.number,
                             params={"customer_reference": request_id},
                             headers=self._headers())
        for order in reply.get("data") or []:
            if pn.number not in (order.get("requested_numbers") or []):
                continue
            status = order.get("status") or "success"
            if status == "success":
                return {"order_id": order.get("id")}
            if status != "failure":       # pending: Telnyx is still placing it
                raise OrderPending(pn.number, self.name, status)
        return None


