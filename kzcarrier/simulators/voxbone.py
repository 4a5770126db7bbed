"""A Voxbone (ws-voxbone REST) simulator: account balance, DID groups, cart, checkout,
purchased DIDs (`inventory/did`) and cancellation, shaped like the voxbone_*.json fixtures
KAZOO's tests use."""
from __future__ import annotations

from typing import Any

from . import Request, Simulator, available_numbers

BASE = "/ws-voxbone/services/rest"


class VoxboneSimulator(Simulator):
    name = "voxbone"

    def __init__(self, seed: int = 1, user: str = "kzcarrier", password: str = "sim-pass"):
        super().__init__(seed)
        self.user, self.password = user, password
        self.balance = 500.0
        self.carts: dict[int, dict[str, Any]] = {}
        self.owned: dict[str, dict[str, Any]] = {}     # e164 -> DID record
        self._next = 5666963

    def _id(self) -> int:
        self._next += 1
        return self._next

    def route(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        if not self.basic_auth_ok(req, self.user, self.password):
            return 401, {"errors": [{"apiErrorMessage": "authentication"}]}, {}
        path = req.path[len(BASE):] if req.path.startswith(BASE) else req.path
        q = {k: v[0] for k, v in req.query.items()}
        with self.lock:
            if path == "/ordering/accountbalance":
                return 200, {"accountBalance": {"balance": self.balance, "currency": "USD"}}, {}
            if path == "/inventory/didgroup":
                area = q.get("areaCode", "").rstrip("%*")
                groups = [{"didGroupId": 17000 + i, "areaCode": area, "cityName": f"CITY{i}",
                           "countryCodeA3": q.get("countryCodeA3"), "stock": 10 + i,
                           "setup100": 0, "monthly100": 100,
                           "didType": q.get("didType", "GEOGRAPHIC")} for i in range(3)]
                return 200, {"didGroups": groups}, {}
            if path == "/ordering/cart" and req.method == "PUT":
                cart = self._id()
                self.carts[cart] = {"items": [], "reference": (req.body or {}).get(
                    "customerReference")}
                return 200, {"cart": {"cartIdentifier": cart}}, {}
            if path.startswith("/ordering/cart/") and path.endswith("/product"):
                cart = self.carts.get(int(path.split("/")[3]))
                if cart is None:
                    return 404, {"errors": [{"apiErrorMessage": "no such cart"}]}, {}
                cart["items"].append((req.body or {}).get("didCartItem") or {})
                return 200, {"status": "SUCCESS"}, {}
            if path.startswith("/ordering/cart/") and path.endswith("/checkout"):
                cart = self.carts.pop(int(path.split("/")[3]), None)
                if cart is None:
                    return 404, {"errors": [{"apiErrorMessage": "no such cart"}]}, {}
                ref = f"{self._id()}DS"
                for item in cart["items"]:
                    area = str(item.get("areaCode") or "256")
                    taken = {**self.owned, **self.sold}
                    for num in available_numbers(area, int(item.get("quantity") or 1), taken):
                        did = {"didId": self._id(), "e164": num, "orderReference": ref,
                               "didGroupId": item.get("didGroupId"),
                               "customerReference": cart["reference"]}
                        self.owned[num] = did
                        self.record.orders.append(dict(did))
                return 200, {"productCheckoutList": [{"productType": "DID",
                                                      "orderReference": ref}]}, {}
            if path == "/inventory/did":
                ref, pattern = q.get("orderReference"), q.get("e164Pattern", "")
                dids = [d for d in self.owned.values()
                        if (ref is None or d["orderReference"] == ref)
                        and d["e164"].startswith(pattern.rstrip("%*"))]
                return 200, {"dids": sorted(dids, key=lambda d: d["e164"])}, {}
            if path == "/ordering/cancel":
                ids = set((req.body or {}).get("didIds") or [])
                gone = [n for n, d in self.owned.items() if d["didId"] in ids]
                for num in gone:
                    self.owned.pop(num)
                    self.record.releases.append({"number": num})
                return 200, {"numberCancelled": len(gone)}, {}
        return 404, {"errors": [{"apiErrorMessage": "not found"}]}, {}
