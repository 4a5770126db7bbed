"""A Bandwidth Dashboard ("iris") API simulator: the XML exchanges of KAZOO's knm_bandwidth2
(search, order, order status), answers shaped like the bandwidth2_*.xml fixtures, plus what
kzcarrier uses: order search by CustomerOrderId and disconnect orders. Switches beyond the
common ones: `complete_after` (status polls an order stays RECEIVED), `order_outcome`
("COMPLETE", "PARTIAL" or "FAILED")."""
from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from typing import Any

from . import Request, XmlSimulator

TOLLFREE = ("800", "822", "833", "844", "855", "866", "877", "888")


def sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


class Bandwidth2Simulator(XmlSimulator):
    xml_type = "application/xml"
    prolog = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    name = "bandwidth2"

    def __init__(self, seed: int = 1, account_id: str = "9900001", user: str = "kzcarrier",
                 password: str = "sim-password"):
        super().__init__(seed)
        self.account_id, self.user, self.password = account_id, user, password
        self.complete_after = 1
        self.order_outcome = "COMPLETE"
        self.orders: dict[str, dict[str, Any]] = {}


    def route(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        if not self.basic_auth_ok(req, self.user, self.password):
            return 401, self._error(401, "authentication"), {}
        base = f"/v1.0/accounts/{self.account_id}/"
        if not req.path.startswith(base):
            return 404, self._error(404, "no such account"), {}
        path = req.path[len(base):]
        q = {k: v[0] for k, v in req.query.items()}
        if req.method == "GET" and path == "availableNumbers":
            return self._search(q)
        if req.method == "POST" and path == "orders":
            return self._order(req.body)
        if req.method == "GET" and path == "orders":
            return self._find_orders(q.get("customerOrderId", ""))
        if req.method == "GET" and path.startswith("orders/"):
            return self._order_status(path[len("orders/"):])
        if req.method == "POST" and path == "disconnects":
            return self._disconnect(req.body)
        return 404, self._error(404, "not found"), {}

    def _error(self, code: int, text: str) -> ET.Element:
        root = ET.Element("ErrorResponse")
        err = sub(sub(root, "ErrorList"), "Error")
        sub(err, "Code", code)
        sub(err, "Description", text)
        return root

    def _search(self, q: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        qty = int(q.get("quantity") or 10)
        pattern = q.get("tollFreeWildCardPattern")
        if pattern:
            npas = [n for n in TOLLFREE if all(p in ("*", c) for p, c in zip(pattern, n))]
            stems = [f"{n}252" for n in npas]
        elif q.get("areaCode"):
            stems = [f"{q['areaCode']}370"]
        elif q.get("npaNxx"):
            stems = [q["npaNxx"]]
        else:
            return 400, self._error(400, "a search needs areaCode, npaNxx or a pattern"), {}
        found = []
        for stem in stems:
            for i in range(10000):
                tn = f"{stem}{i:0{10 - len(stem)}d}"[:10]
                if f"+1{tn}" not in self.sold:
                    found.append(tn)
                if len(found) >= qty:
                    break
            if len(found) >= qty:
                break
        root = ET.Element("SearchResult")
        sub(root, "ResultCount", len(found))
        if q.get("enableTNDetail") == "true":
            lst = sub(root, "TelephoneNumberDetailList")
            for tn in found:
                d = sub(lst, "TelephoneNumberDetail")
                for tag, val in (("City", "NEWARK"), ("LATA", "224"), ("RateCenter", "NEWARK"),
                                 ("State", "NJ"), ("FullNumber", tn), ("Tier", "0"),
                                 ("VendorId", "49"), ("VendorName", "Bandwidth CLEC")):
                    sub(d, tag, val)
        lst = sub(root, "TelephoneNumberList")
        for tn in found:
            sub(lst, "TelephoneNumber", tn)
        return 200, root, {}

    def _order_xml(self, order: dict[str, Any], status: str) -> ET.Element:
        root = ET.Element("OrderResponse")
        o = sub(root, "Order")
        sub(o, "CustomerOrderId", order["customer_order_id"])
        sub(o, "Name", order["name"])
        sub(o, "PeerId", order["peer_id"])
        sub(o, "id", order["id"])
        tl = sub(sub(o, "ExistingTelephoneNumberOrderType"), "TelephoneNumberList")
        for tn in order["numbers"]:
            sub(tl, "TelephoneNumber", tn)
        sub(o, "PartialAllowed", "true")
        sub(o, "SiteId", order["site_id"])
        sub(root, "OrderStatus", status)
        if status in ("FAILED", "PARTIAL"):
            err = sub(sub(root, "ErrorList"), "Error")
            sub(err, "Code", 5005)
            sub(err, "Description", "The telephone number is unavailable for ordering")
            sub(err, "TelephoneNumber", order["numbers"][0])
        return root

    def _order(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if body is None:
            return 400, self._error(400, "malformed order"), {}
        tns = [el.text or "" for el in body.iter("TelephoneNumber")]
        with self.lock:
            taken = [tn for tn in tns if f"+1{tn}" in self.sold]
            if not tns or taken:
                return 400, self._error(400, f"unavailable: {', '.join(taken)}"), {}
            order = {"id": str(uuid.UUID(int=self.rng.getrandbits(128))),
                     "customer_order_id": body.findtext("CustomerOrderId") or "",
                     "name": body.findtext("Name") or "", "site_id": body.findtext("SiteId"),
                     "peer_id": body.findtext("PeerId"), "numbers": tns, "polls": 0,
                     "outcome": self.order_outcome}
            self.orders[order["id"]] = order
            self.record.orders.append({k: order[k] for k in ("id", "customer_order_id",
                                                             "numbers")})
            if order["outcome"] == "COMPLETE":
                for tn in tns:
                    self.sold[f"+1{tn}"] = order
        return 201, self._order_xml(order, "RECEIVED"), {}

    def _order_status(self, order_id: str) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return 404, self._error(404, "order not found"), {}
            order["polls"] += 1
            status = "RECEIVED" if order["polls"] < self.complete_after else order["outcome"]
        return 200, self._order_xml(order, status), {}

    def _find_orders(self, customer_order_id: str) -> tuple[int, Any, dict[str, str]]:
        root = ET.Element("ResponseSelectWrapper")
        lst = sub(root, "ListOrderIdUserIdDate")
        with self.lock:   # a search shows each order as it is now, and moves it on
            hits = [o for o in self.orders.values()
                    if o["customer_order_id"] == customer_order_id]
            shown = {}
            for o in hits:
                o["polls"] += 1
                shown[o["id"]] = "RECEIVED" if o["polls"] < self.complete_after else o["outcome"]
        sub(lst, "TotalCount", len(hits))
        for o in hits:
            item = sub(lst, "OrderIdUserIdDate")
            sub(item, "CountOfTNs", len(o["numbers"]))
            sub(item, "CustomerOrderId", o["customer_order_id"])
            sub(item, "orderId", o["id"])
            sub(item, "OrderStatus", shown[o["id"]])
            sub(item, "OrderType", "new_number")
            tl = sub(item, "TelephoneNumberList")
            for tn in o["numbers"]:
                sub(tl, "TelephoneNumber", tn)
        return 200, root, {}

    def _disconnect(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if body is None:
            return 400, self._error(400, "malformed disconnect"), {}
        tns = [el.text or "" for el in body.iter("TelephoneNumber")]
        with self.lock:
            missing = [tn for tn in tns if f"+1{tn}" not in self.sold]
            if missing:
                return 400, self._error(400, f"not on this account: {', '.join(missing)}"), {}
            for tn in tns:
                self.sold.pop(f"+1{tn}")
                self.record.releases.append({"number": f"+1{tn}"})
        root = ET.Element("DisconnectTelephoneNumberOrderResponse")
        req = sub(root, "orderRequest")
        sub(req, "id", str(uuid.UUID(int=self.rng.getrandbits(128))))
        sub(root, "OrderStatus", "RECEIVED")
        return 201, root, {}
