"""`knm_voxbone`: Voxbone sells DIDs from DID groups through a cart, never a number picked
in advance, which is why KAZOO's module buys numbers *during search*. kzcarrier does not:
purchasing stock is an explicit operator action (`buy_stock`, `kzcarrier stock voxbone`),
and search lists the DIDs the account holds that no number document uses yet. Acquiring
one is then a check that Voxbone still has it on the account; releasing cancels it
(`ordering/cancel`). Config `number_manager.voxbone`: `api_username`, `api_password`,
`environment` (sandbox | production | beta), `max_page_size` (20), and `api_url`.
"""
from __future__ import annotations

from typing import Any

from ..errors import ByCarrier
from ..numbers import US_TOLLFREE_NPAS, number_db
from .http import HttpCarrier

HOSTS = {"production": "api.voxbone.com", "sandbox": "sandbox.voxbone.com",
         "beta": "beta.voxbone.com"}
A3 = {"US": "USA", "CA": "CAN", "GB": "GBR", "FR": "FRA", "DE": "DEU", "BE": "BEL"}


class Voxbone(HttpCarrier):
    search_state = "discovery"

    def base_url(self) -> str:
        cfg = self.configuration()
        if not cfg.get("api_username") or not cfg.get("api_password"):
            raise ByCarrier(None, self.name, "not configured: number_manager.voxbone needs "
                            "api_username and api_password")
        if cfg.get("api_url"):
            return str(cfg["api_url"])
        host = HOSTS.get(str(cfg.get("environment") or "sandbox"), HOSTS["sandbox"])
        return f"https://{host}/ws-voxbone/services/rest"

    def _kw(self, **params: Any) -> dict[str, Any]:
        cfg = self.configuration()
        common = {"pageNumber": 0, "pageSize": int(cfg.get("max_page_size") or 20),
                  "showEmpty": "false"}
        return {"auth": (str(cfg["api_username"]), str(cfg["api_password"])),
                "params": {**common, **params},
                "headers": {"Accept": "application/json"}}

    def _owned(self, pattern: str, number: str | None = None) -> list[dict[str, Any]]:
        reply = self.request("GET", "inventory/did", number, **self._kw(e164Pattern=pattern))
        return list(reply.get("dids") or [])

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for did in self._owned(prefix + "%"):
            num = did.get("e164") or ""
            if not num.startswith(prefix) or self._in_use(num):
                continue
            out[num] = did
            if len(out) >= quantity:
                break
        return out

    def _in_use(self, num: str) -> bool:
        doc = self.ctx.couch.get(number_db(num), num, missing_ok=True)
        return bool(doc) and doc.get("pvt_state") not in (None, "discovery", "available")

    def buy_stock(self, area_code: str, quantity: int, country: str = "US",
                  reference: str | None = None) -> list[str]:
        """Buy `quantity` DIDs of `area_code` into the account (cheapest groups first)."""
        kind = "TOLL_FREE" if area_code[:3] in US_TOLLFREE_NPAS else "GEOGRAPHIC"
        groups = self.request("GET", "inventory/didgroup", **self._kw(
            didType=kind, countryCodeA3=A3.get(country.upper(), "USA"),
            areaCode=area_code)).get("didGroups") or []
        plan, left = [], quantity
        for g in sorted(groups, key=lambda g: g.get("setup100", 0) + g.get("monthly100", 0)):
            take = min(int(g.get("stock") or 0), left)
            if take > 0:
                plan.append((g, take))
                left -= take
        if left > 0:
            raise ByCarrier(None, self.name, "insufficient inventory to satisfy request")
        cost = sum(n * (g.get("setup100", 0) + g.get("monthly100", 0)) / 100 for g, n in plan)
        balance = self.request("GET", "ordering/accountbalance", **self._kw())
        if float((balance.get("accountBalance") or {}).get("balance") or 0) < cost:
            raise ByCarrier(None, self.name, "balance too low for the purchase")
        kw = self._kw()
        cart = self.request("PUT", "ordering/cart", json={
            "customerReference": reference or "kzcarrier", "description": "kzcarrier stock"},
            **kw)["cart"]["cartIdentifier"]
        for g, n in plan:
            self.request("POST", f"ordering/cart/{cart}/product", json={
                "cartIdentifier": cart, "didCartItem": {"didGroupId": g["didGroupId"],
                                                         "quantity": n,
                                                         "areaCode": g.get("areaCode")}},
                **kw)
        checkout = self.request("GET", f"ordering/cart/{cart}/checkout", **kw)
        bought = []
        for product in checkout.get("productCheckoutList") or []:
            if product.get("productType") == "DID":
                reply = self.request("GET", "inventory/did", **self._kw(
                    orderReference=product.get("orderReference")))
                bought += [d["e164"] for d in reply.get("dids") or []]
        return bought

    def acquire_number(self, pn: Any) -> Any:
        """Already bought (as stock): make sure Voxbone still has it on the account."""
        if not any(d.get("e164") == pn.number for d in self._owned(pn.number, pn.number)):
            raise ByCarrier(pn.number, self.name, "not in the account's Voxbone inventory")
        return pn

    def disconnect_number(self, pn: Any) -> Any:
        ids = [d["didId"] for d in self._owned(pn.number, pn.number)
               if d.get("e164") == pn.number]
        if ids:
            self.request("POST", "ordering/cancel", pn.number, json={"didIds": ids},
                         **self._kw())
        return pn

    def lookup_order(self, pn: Any, request_id: str, action: str) -> dict[str, Any] | None:
        return None  # acquiring is a check, releasing a cancel of what is there: repeatable
