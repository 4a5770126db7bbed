"""A Telnyx "origination" (v1) API simulator: the requests KAZOO's knm_telnyx makes, with
answers shaped like the fixture responses (telnyx_npa_search.json, telnyx_order.json...),
plus what kzcarrier adds: order lookup by `customer_reference` and number release, and the
E911 (`e911_addresses`, `numbers/{did}/e911_settings`) and CNAM (`numbers/{did}`) calls of
knm_telnyx_e911 / knm_telnyx_cnam, each readable back so a client can ask first."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from ..numbers import US_TOLLFREE_NPAS
from . import Request, Simulator

# International area codes, as the GB fixture answers them.
AREA_CODES = {"GB": [("1631", "Oban"), ("1432", "Hereford"), ("1224", "Aberdeen"),
                     ("1382", "Dundee"), ("1603", "Norwich")]}
PREFIX = "/origination"


class TelnyxSimulator(Simulator):
    name = "telnyx"

    def __init__(self, seed: int = 1, user: str = "kzcarrier", token: str = "sim-token"):
        super().__init__(seed)
        self.user, self.token = user, token
        self._ids = 411389090580137691
        self.addresses: dict[str, dict[str, Any]] = {}     # E911 addresses by id
        self.numbers: dict[str, dict[str, Any]] = {}       # per number: E911, CNAM settings

    def _next_id(self) -> str:
        self._ids += 1
        return str(self._ids)

    def route(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        if req.headers.get("x-api-user") != self.user or \
                req.headers.get("x-api-token") != self.token:
            return 401, {"message": "unauthenticated"}, {}
        path = req.path[len(PREFIX):] if req.path.startswith(PREFIX) else req.path
        if req.method == "POST" and path == "/number_searches":
            return self._search(req.body or {})
        if req.method == "POST" and path == "/number_orders":
            return self._order(req.body or {})
        if req.method == "GET" and path == "/number_orders":
            ref = (req.query.get("customer_reference") or [""])[0]
            with self.lock:
                found = [o for o in self.record.orders if o.get("customer_reference") == ref]
            return 200, {"data": found}, {}
        if path.startswith("/e911_addresses"):
            return self._address(req.method, path[len("/e911_addresses"):].strip("/"),
                                 req.body or {})
        if path.startswith("/numbers/") and path.endswith("/e911_settings"):
            return self._per_number(self._e911, req.method,
                                    unquote(path[len("/numbers/"):-len("/e911_settings")]),
                                    req.body or {})
        if req.method == "DELETE" and path.startswith("/numbers/"):
            return self._release(unquote(path[len("/numbers/"):]))
        if req.method in ("GET", "PUT") and path.startswith("/numbers/"):
            return self._per_number(self._cnam, req.method,
                                    unquote(path[len("/numbers/"):]), req.body or {})
        return 404, {"message": "not_found"}, {}

    # --- E911 and CNAM (knm_telnyx_e911, knm_telnyx_cnam) --------------------------------

    def _address(self, method: str, address_id: str, body: dict[str, Any],
                 ) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            if method == "POST" and not address_id:
                missing = [k for k in ("line_1", "city", "state", "postal_code")
                           if not body.get(k)]
                postal = str(body.get("postal_code") or "")
                if missing or not (postal.isdigit() and len(postal) == 5):
                    reasons = [f"{k} is required" for k in missing] or ["invalid postal_code"]
                    return 200, {"success": False, "status": "failed",
                                 "message": "address not valid", "reasons": reasons}, {}
                new_id = self._next_id()
                self.addresses[new_id] = {**body, "id": new_id}
                return 200, {"success": True, "status": "success", "id": new_id}, {}
            if address_id not in self.addresses:
                return 404, {"message": "not_found"}, {}
            if method == "GET":
                return 200, dict(self.addresses[address_id]), {}
            if method == "DELETE":
                self.addresses.pop(address_id)
                return 200, {"success": True}, {}
        return 404, {"message": "not_found"}, {}

    def _per_number(self, handler: Any, method: str, e164: str, body: dict[str, Any],
                    ) -> tuple[int, Any, dict[str, str]]:
        """`handler` with the number's E911/CNAM settings; 404 if the number is not ours."""
        with self.lock:
            if e164 not in self.sold:
                return 404, {"message": f"number {e164} is not on this account"}, {}
            return handler(method, e164, body, self.numbers.setdefault(e164, {}))

    def _e911(self, method: str, e164: str, body: dict[str, Any], settings: dict[str, Any],
              ) -> tuple[int, Any, dict[str, str]]:
        if method == "PUT":
            enabled = body.get("e911_enabled") is True
            address_id = body.get("e911_address_id")
            if enabled and address_id not in self.addresses:
                return 200, {"success": False, "message": "unknown address"}, {}
            settings.update(e911_enabled=enabled, e911_address_id=address_id)
            self.record.features.append({"number": e164, "e911": enabled,
                                         "address_id": address_id})
        return 200, {"success": True, "e911_enabled": settings.get("e911_enabled", False),
                     "e911_address_id": settings.get("e911_address_id")}, {}

    def _cnam(self, method: str, e164: str, body: dict[str, Any], settings: dict[str, Any],
              ) -> tuple[int, Any, dict[str, str]]:
        if method == "PUT":
            for key in ("cnam_listing_details", "enable_caller_id_name"):
                if key in body:
                    settings[key] = body[key]
            self.record.features.append({"number": e164, "cnam": dict(body)})
        return 200, {"number_e164": e164, **settings}, {}

    def _entry(self, e164: str, cost: str) -> dict[str, Any]:
        return {"best_effort": False, "currency": None, "monthly_recurring_cost": cost,
                "number": e164[2:], "number_e164": e164, "upfront_cost": cost}

    def _search(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        kind = body.get("search_type")
        desc = body.get("search_descriptor") or {}
        limit = int(body.get("limit") or 100)
        out: dict[str, Any] = {"any_best_effort": False, "async": False, "id": self._next_id(),
                               "inexplicit_result": [], "limit": limit, "result": [],
                               "search_descriptor": desc, "search_request_id": None,
                               "search_type": kind, "status": 2}
        if kind in (1, 3):
            npa = str(desc.get("npa") or desc.get("prefix") or "")
            nxx = str(desc.get("nxx") or "")
            if len(npa) != 3 or not npa.isdigit():
                return 400, {"message": "bad_request: npa"}, {}
            cost = "10.00000" if npa in US_TOLLFREE_NPAS else "1.00000"
            found = []
            for i in range(10000):
                tail = f"{nxx or str(200 + (i // 10000) % 800)}{i:04d}"[-7:]
                e164 = f"+1{npa}{tail}"
                if e164 not in self.sold:
                    found.append(self._entry(e164, cost))
                if len(found) >= limit:
                    break
            out["result"] = found
        elif kind == 2:
            country = str(desc.get("country_iso") or "US").upper()
            out["inexplicit_result"] = [
                {"area_code": code, "carrier_name": "didww", "country_iso": country,
                 "monthly_recurring_cost": "2.00000", "region_name": region,
                 "region_type": "city", "upfront_cost": "2.00000"}
                for code, region in AREA_CODES.get(country, [])][:limit]
        else:
            return 400, {"message": "bad_request: search_type"}, {}
        return 200, out, {}

    def _order(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        numbers = body.get("requested_numbers") or []
        with self.lock:
            taken = [n for n in numbers if n in self.sold]
            if taken:
                self.record.refused.append({"requested_numbers": numbers,
                                            "customer_reference": body.get("customer_reference")})
            if not numbers or taken:
                return 400, {"message": f"numbers not available: {', '.join(taken)}"}, {}
            order = {"id": self._next_id(), "bulk_order_ids": [],
                     "requested_numbers": numbers,
                     "customer_reference": body.get("customer_reference")}
            self.record.orders.append(order)
            for num in numbers:
                self.sold[num] = order
        return 200, {"id": order["id"], "bulk_order_ids": []}, {}

    def _release(self, e164: str) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            if e164 not in self.sold:
                return 404, {"message": f"number {e164} is not on this account"}, {}
            self.sold.pop(e164)
            self.record.releases.append({"number": e164})
        return 200, {"number_e164": e164, "status": "released"}, {}
