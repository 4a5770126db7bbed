"""`knm_vitelity`: Vitelity's `api.php` (reference §5.4): every call a POST with an empty
body and its parameters in the query string, XML answers. kzcarrier adds an order lookup
(`cmd=listdids`: is the number on the account?) and reports Vitelity's own error text.
Config `number_manager.vitelity`: `api_uri` (https://api.vitelity.net/api.php), `login`,
`pass`, `routesip` (string or list: the first is used), `cnam`, `provider`, `type`,
`withrates`, `use_stepswitch_cnam`.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ..errors import ByCarrier
from ..numbers import US_TOLLFREE_NPAS, NumberRules
from .http import HttpCarrier

RULES = NumberRules()


class Vitelity(HttpCarrier):
    url_key = "api_uri"
    default_url = "https://api.vitelity.net/api.php"

    def should_lookup_cnam(self) -> bool:
        return bool(self.configuration().get("use_stepswitch_cnam", False))

    def base_url(self) -> str:
        return str(self.configuration().get("api_uri") or self.default_url)

    def _call(self, params: dict[str, Any], number: str | None = None) -> ET.Element:
        cfg = self.configuration()
        if not cfg.get("login") or not cfg.get("pass"):
            raise ByCarrier(number, self.name, "not configured: number_manager.vitelity needs "
                            "login and pass")
        query = {k: v for k, v in params.items() if v not in (None, "")}
        query.update({"xml": "yes", "login": cfg["login"], "pass": cfg["pass"]})
        resp = self.send("POST", "", number, params=query, content=b"")
        try:
            root = ET.fromstring(resp.content)
        except ET.ParseError as exc:
            raise ByCarrier(number, self.name, "failed_decode_resp", transient=True) from exc
        if root.findtext("status") != "ok":
            raise ByCarrier(number, self.name, root.findtext("error") or "fail")
        return root

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        cfg = self.configuration()
        npan = prefix[2:] if prefix.startswith("+1") else prefix.lstrip("+")
        extra = {k: cfg.get(k) for k in ("withrates", "type", "provider", "cnam")}
        if options.get("tollfree") or RULES.classify(prefix) == "tollfree_us" or \
                npan[:3] in US_TOLLFREE_NPAS:
            root = self._call({"cmd": "listtollfree", "limit": quantity})
        elif len(npan) <= 3:
            root = self._call({"npa": npan, "cmd": "listnpa", **extra})
        else:
            root = self._call({"npanxx": npan[:6], "cmd": "listnpanxx", **extra})
        numbers = root.find("numbers")
        if numbers is None:
            raise ByCarrier(None, self.name, "no_numbers")
        if numbers.find("response") is not None:
            raise ByCarrier(None, self.name, numbers.findtext("response") or "fail")
        out: dict[str, dict[str, Any]] = {}
        for did in numbers.findall("did"):
            if len(did):
                data = {child.tag: child.text for child in did}
                raw = data.pop("number", None) or data.pop("did", None) or ""
            else:
                data, raw = {}, did.text or ""
            num = "+1" + raw.strip()[-10:]
            if not num.startswith(prefix if prefix.startswith("+") else "+1" + npan):
                continue
            out[num] = {**data, "number": num}
            if len(out) >= quantity:
                break
        return out

    def acquire_number(self, pn: Any) -> Any:
        routesip = self.configuration().get("routesip")
        if isinstance(routesip, list):
            routesip = routesip[0] if routesip else None
        if not routesip:
            raise ByCarrier(pn.number, self.name, "not configured: routesip")
        cmd = "gettollfree" if RULES.classify(pn.number) == "tollfree_us" else "getlocaldid"
        self._call({"did": pn.number[2:], "cmd": cmd, "routesip": routesip}, pn.number)
        return pn

    def disconnect_number(self, pn: Any) -> Any:
        try:
            self._call({"did": pn.number[2:], "cmd": "removedid"}, pn.number)
        except ByCarrier as exc:
            if "not on your account" not in exc.reason:
                raise
        return pn

    def lookup_order(self, pn: Any, request_id: str, action: str) -> dict[str, Any] | None:
        if action != "acquire":
            return None
        root = self._call({"cmd": "listdids"}, pn.number)
        owned = {"+1" + (d.findtext("number") or d.text or "").strip()[-10:]
                 for d in root.iter("did")}
        return {} if pn.number in owned else None
