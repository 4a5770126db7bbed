"""A Telnyx "origination" (v1) API simulator: the requests KAZOO's knm_telnyx makes, with
answers shaped like the fixture responses (telnyx_npa_search.json, telnyx_order.json...),
plus what kzcarrier adds: order lookup by `customer_reference` and number release."""
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
        if req.method == "DELETE" and path.startswith("/numbers/"):
            return self._release(unquote(path[len("/numbers/"):]))
        return 404, {"message": "not_found"}, {}

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
