"""`knm_bandwidth2`: the Bandwidth Dashboard ("iris") XML API, as KAZOO's knm_bandwidth2
uses it (reference/kazoo-carrier-modules.md §5.1), with KAZOO's gaps closed:

* toll-free searches send a real pattern (`8X*`, then filtered to the asked NPA; KAZOO
  dropped the first digit and sent `55*` for 855);
* the order's `CustomerOrderId` is the request id (KAZOO put the auth account there), so
  `lookup_order` finds an interrupted order by it (`GET orders?customerOrderId=`);
* order polling is bounded (`order_wait_s`, default 60; every `order_poll_ms`, default
  2000) and PARTIAL/FAILED orders fail with Bandwidth's own error; a wait that runs out is
  a transient error, resolved on retry by the lookup;
* `disconnect_number` really releases the number (`POST disconnects`).

Config `number_manager.bandwidth2`: `account_id`, `api_username`, `api_password`, `site_id`,
`sip_peer`, `order_name_prefix` ("Kazoo"), `enable_provisioning` (true),
`sandbox_provisioning` (true), `max_search_quantity` (500), `debug`, and kzcarrier's
`api_url` (default https://dashboard.bandwidth.com/api/v1.0: `accounts/{account_id}` is
appended), `order_wait_s`, `order_poll_ms`.
"""
from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any

from ..errors import ByCarrier
from ..model.document import now_gregorian
from . import OrderPending, OrderUnknown
from .http import HttpCarrier

TOLLFREE = {"800", "822", "833", "844", "855", "866", "877", "880", "881", "882", "883",
            "884", "885", "886", "887", "888", "889"}


class Bandwidth2(HttpCarrier):
    default_url = "https://dashboard.bandwidth.com/api/v1.0"
    maximal_prefix_length = 3
    sandbox_default = True

    def base_url(self) -> str:
        cfg = self.configuration()
        if not cfg.get("account_id") or not cfg.get("api_username"):
            raise ByCarrier(None, self.name, "not configured: number_manager.bandwidth2 needs "
                            "account_id, api_username and api_password")
        return f"{super().base_url()}/accounts/{cfg['account_id']}"

    def _auth(self) -> tuple[str, str]:
        cfg = self.configuration()
        return str(cfg.get("api_username") or ""), str(cfg.get("api_password") or "")

    def _xml(self, method: str, path: str, number: str | None = None,
             **kwargs: Any) -> ET.Element:
        resp = self.send(method, path, number, auth=self._auth(), **kwargs)
        try:
            return ET.fromstring(resp.content)
        except ET.ParseError as exc:
            raise ByCarrier(number, self.name, "malformed answer from the carrier",
                            transient=True) from exc

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        digits = prefix.lstrip("+")
        digits = digits[1:] if digits.startswith("1") else digits
        qty = min(quantity, int(self.configuration().get("max_search_quantity") or 500))
        tollfree = digits[:3] in TOLLFREE
        if tollfree:
            params = {"tollFreeWildCardPattern": digits[:2] + "*", "quantity": qty}
        elif len(digits) == 3:
            params = {"areaCode": digits, "quantity": qty}
        else:
            params = {"npaNxx": digits[:6], "quantity": qty}
        params["enableTNDetail"] = "false" if tollfree else "true"
        root = self._xml("GET", "availableNumbers", params=params)
        details = {d.findtext("FullNumber"): d for d in root.iter("TelephoneNumberDetail")}
        out: dict[str, dict[str, Any]] = {}
        for el in root.iter("TelephoneNumber"):
            tn = (el.text or "").strip()
            if len(tn) != 10 or not tn.startswith(digits):
                continue
            data: dict[str, Any] = {}
            d = details.get(tn)
            if d is not None:
                rc = {"name": d.findtext("RateCenter"), "lata": d.findtext("LATA"),
                      "state": d.findtext("State")}
                rc = {k: v for k, v in rc.items() if v}
                if rc:
                    data["rate_center"] = rc
            out["+1" + tn] = data
            if len(out) >= qty:
                break
        return out

    def acquire_number(self, pn: Any) -> Any:
        if not self.provisioning_allowed(pn):
            return pn
        cfg = self.configuration()
        tn = pn.number[2:]
        name = f"{cfg.get('order_name_prefix') or 'Kazoo'}-{now_gregorian()}"
        order = ET.Element("Order")
        ET.SubElement(order, "Name").text = name
        ET.SubElement(order, "CustomerOrderId").text = pn.order_reference or name
        ET.SubElement(order, "SiteId").text = str(cfg.get("site_id") or "")
        ET.SubElement(order, "PeerId").text = str(cfg.get("sip_peer") or "")
        lst = ET.SubElement(ET.SubElement(order, "ExistingTelephoneNumberOrderType"),
                            "TelephoneNumberList")
        ET.SubElement(lst, "TelephoneNumber").text = tn
        body = b'<?xml version="1.0"?>' + ET.tostring(order)
        root = self._xml("POST", "orders", pn.number, content=body,
                         headers={"Content-Type": "application/xml", "Accept": "*/*",
                                  "X-BWC-IN-Control-Processing-Type": "process"})
        order_id = root.findtext("Order/id") or ""
        status = root.findtext("OrderStatus") or ""
        wait_s = float(cfg.get("order_wait_s") or 60)
        poll_s = float(cfg.get("order_poll_ms") or 2000) / 1000
        deadline = time.monotonic() + wait_s
        while status == "RECEIVED" and order_id:
            if time.monotonic() >= deadline:
                raise ByCarrier(pn.number, self.name, f"order {order_id} still RECEIVED after "
                                f"{wait_s:.0f}s", transient=True)
            time.sleep(poll_s)
            root = self._xml("GET", f"orders/{order_id}", pn.number)
            status = root.findtext("OrderStatus") or ""
        if status != "COMPLETE":
            why = root.findtext("ErrorList/Error/Description") or status or "no status"
            raise ByCarrier(pn.number, self.name, f"Unable to acquire number: {status}: {why}")
        # KAZOO's shape: `order_id` is the CustomerOrderId; Bandwidth's own id beside it
        pn.carrier_data = {**pn.carrier_data,
                           "order_id": root.findtext("Order/CustomerOrderId"),
                           "order_name": root.findtext("Order/Name") or name,
                           "number": pn.number, "bandwidth_order_id": order_id}
        return pn

    def longest_call_s(self) -> float:
        """The order POST, the bounded wait for it, and the last GET."""
        wait_s = float(self.configuration().get("order_wait_s") or 60)
        return 2 * self.timeout_s() + wait_s

    def lookup_order(self, pn: Any, request_id: str, action: str) -> dict[str, Any] | None:
        if action != "acquire":
            return None
        root = self._xml("GET", "orders", pn.number, params={"customerOrderId": request_id})
        for item in root.iter("OrderIdUserIdDate"):
            numbers = [el.text for el in item.iter("TelephoneNumber")]
            if pn.number[2:] not in numbers:
                continue
            status = item.findtext("OrderStatus") or ""
            if status == "COMPLETE":
                return {"order_id": request_id, "number": pn.number,
                        "bandwidth_order_id": item.findtext("orderId")}
            if status == "FAILED":
                continue          # nothing bought by that order
            if status == "PARTIAL":
                raise OrderUnknown(pn.number, self.name)
            raise OrderPending(pn.number, self.name, status or "no status")
        return None

    def disconnect_number(self, pn: Any) -> Any:
        if not self.provisioning_allowed(pn):
            return pn
        order = ET.Element("DisconnectTelephoneNumberOrder")
        ET.SubElement(order, "name").text = f"kzcarrier-release-{pn.number}"
        lst = ET.SubElement(ET.SubElement(order, "DisconnectTelephoneNumberOrderType"),
                            "TelephoneNumberList")
        ET.SubElement(lst, "TelephoneNumber").text = pn.number[2:]
        try:
            self._xml("POST", "disconnects", pn.number,
                      content=b'<?xml version="1.0"?>' + ET.tostring(order),
                      headers={"Content-Type": "application/xml"})
        except ByCarrier as exc:
            if "not on this account" not in exc.reason:
                raise
        return pn
