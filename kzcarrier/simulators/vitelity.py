"""A Vitelity `api.php` simulator: every call a POST with its parameters in the query
string, XML answers shaped like the vitelity_*.xml fixtures; commands listnpa, listnpanxx,
listtollfree, getlocaldid, gettollfree, removedid, and listdids (what kzcarrier's order
lookup asks), and the E911 (e911checkaddress, e911send, e911delete, e911getinfo) and CNAM
(lidb, cnamenable, cnamdisable) commands."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from . import Request, Simulator, available_numbers

TOLLFREE = ("800", "888", "877", "866", "855", "844", "833")
# The DIDs of the vitelity_*.xml fixtures come first, as the real answers had them.
SEEDED_TOLLFREE = ["8887771111", "8005551212"]
SEEDED_LOCAL = ["9875551234", "9875559876"]
FEATURE_COMMANDS = ("e911checkaddress", "e911send", "e911delete", "e911getinfo", "lidb",
                    "cnamenable", "cnamdisable")


class VitelitySimulator(Simulator):
    name = "vitelity"

    def __init__(self, seed: int = 1, login: str = "kzcarrier", password: str = "sim-pass"):
        super().__init__(seed)
        self.login, self.password = login, password
        self.features: dict[str, dict[str, Any]] = {}   # per number: E911 and CNAM settings

    def content_type(self) -> str:
        return "text/xml"

    def render(self, body: Any) -> bytes:
        if isinstance(body, bytes):
            return body
        return b'<?xml version="1.0"?>' + ET.tostring(body)

    def _content(self, status: str, error: str | None = None) -> ET.Element:
        root = ET.Element("content")
        ET.SubElement(root, "status").text = status
        if error:
            ET.SubElement(root, "error").text = error
        return root

    def route(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        q = {k: v[0] for k, v in req.query.items()}
        if q.get("login") != self.login or q.get("pass") != self.password:
            return 200, self._content("fail", "invalid login"), {}
        cmd = q.get("cmd")
        if cmd in ("listnpa", "listnpanxx", "listtollfree"):
            prefix = q.get("npa") or q.get("npanxx") or ""
            limit = int(q.get("limit") or 20)
            if cmd == "listtollfree":
                seeded = ["+1" + d for d in SEEDED_TOLLFREE]
                nums = seeded + [n for npa in TOLLFREE[:2] for n in
                                 available_numbers(npa, max(1, limit // 2 + 1), self.sold)]
            else:
                seeded = ["+1" + d for d in SEEDED_LOCAL if d.startswith(prefix)]
                nums = seeded + available_numbers(prefix, limit, self.sold)
            nums = [n for n in dict.fromkeys(nums) if n not in self.sold]
            root = self._content("ok")
            numbers = ET.SubElement(root, "numbers")
            for num in nums[:limit]:
                did = ET.SubElement(numbers, "did")
                if cmd == "listtollfree":
                    did.text = num[2:]
                else:
                    ET.SubElement(did, "number").text = num[2:]
                    ET.SubElement(did, "ratecenter").text = "ANYCITY"
                    ET.SubElement(did, "state").text = "ZZ"
            return 200, root, {}
        if cmd in ("getlocaldid", "gettollfree"):
            num = "+1" + q.get("did", "")
            with self.lock:
                if num in self.sold:
                    return 200, self._content("fail", "DID not available"), {}
                self.sold[num] = {"routesip": q.get("routesip")}
                self.record.orders.append({"number": num, "routesip": q.get("routesip")})
            return 200, self._content("ok"), {}
        if cmd == "removedid":
            num = "+1" + q.get("did", "")
            with self.lock:
                if num not in self.sold:
                    return 200, self._content("fail", "DID not on your account"), {}
                self.sold.pop(num)
                self.record.releases.append({"number": num})
            return 200, self._content("ok"), {}
        if cmd == "listdids":
            root = self._content("ok")
            numbers = ET.SubElement(root, "numbers")
            for num in sorted(self.sold):
                ET.SubElement(ET.SubElement(numbers, "did"), "number").text = num[2:]
            return 200, root, {}
        if cmd in FEATURE_COMMANDS:
            with self.lock:
                return 200, self._feature(cmd, q), {}
        return 200, self._content("fail", f"unknown command {cmd}"), {}

    # --- E911 and CNAM (knm_vitelity_e911, knm_vitelity_cnam) ----------------------------

    def _feature(self, cmd: str, q: dict[str, str]) -> ET.Element:
        num = "+1" + q.get("did", "")
        if cmd == "e911checkaddress":
            zip_ok = q.get("zip", "").isdigit() and len(q.get("zip", "")) == 5
            if not zip_ok or not q.get("address", "")[:1].isdigit():
                return self._content("fail", "Address could not be validated")
            return self._content("ok")
        if num not in self.sold:
            return self._content("fail", "DID not on your account")
        settings = self.features.setdefault(num, {})
        if cmd == "e911send":
            if not q.get("zip", "").isdigit():
                return self._content("fail", "Invalid zip")
            settings["e911"] = {k: q.get(k, "") for k in
                                ("name", "address", "unittype", "unitnumber", "city",
                                 "state", "zip")}
            self.record.features.append({"number": num, "e911": "send"})
        elif cmd == "e911delete":
            if settings.pop("e911", None) is not None:
                self.record.features.append({"number": num, "e911": "delete"})
        elif cmd == "lidb":
            settings["lidb"] = q.get("name", "")
            self.record.features.append({"number": num, "cnam": q.get("name", "")})
        elif cmd in ("cnamenable", "cnamdisable"):
            settings["cnam_lookup"] = cmd == "cnamenable"
            self.record.features.append({"number": num, "cnam_lookup": cmd == "cnamenable"})
        root = self._content("ok")
        if cmd == "e911getinfo":
            if "e911" not in settings:
                return self._content("fail", "No E911 information for this DID")
            info = ET.SubElement(root, "info")
            for key, value in settings["e911"].items():
                ET.SubElement(info, key).text = value
        else:
            ET.SubElement(root, "response").text = "ok"
        return root
