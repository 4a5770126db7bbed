"""A VoIP Innovations SOAP (APIService.asmx) simulator: getDIDs, assignDID, releaseDID and
queryDID, with envelopes shaped like the voip_innovations_*.xml fixtures."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from . import Request, Simulator, available_numbers

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "http://tempuri.org/"
SEEDED = {"435": [("4352016526", "RICHFIELD"), ("4352016527", "RICHFIELD"),
                  ("4352165994", "ST GEORGE")], "877": [("8772207304", "TOLLFREE")]}


def strip_ns(root: ET.Element) -> ET.Element:
    for el in root.iter():
        el.tag = el.tag.split("}")[-1]
    return root


class VoipInnovationsSimulator(Simulator):
    name = "voip_innovations"

    def __init__(self, seed: int = 1, login: str = "kzcarrier", secret: str = "sim-secret"):
        super().__init__(seed)
        self.login, self.secret = login, secret

    def content_type(self) -> str:
        return "text/xml; charset=utf-8"

    def parse(self, raw: bytes, content_type: str) -> Any:
        try:
            return strip_ns(ET.fromstring(raw)) if raw else None
        except ET.ParseError:
            return None

    def render(self, body: Any) -> bytes:
        if isinstance(body, bytes):
            return body
        action, result = body
        env = ET.Element(f"{{{SOAP}}}Envelope")
        resp = ET.SubElement(ET.SubElement(env, f"{{{SOAP}}}Body"),
                             f"{{{TNS}}}{action}Response")
        resp.append(result)
        return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(env)

    def _result(self, action: str, code: int = 100, message: str = "Success") -> ET.Element:
        res = ET.Element(f"{{{TNS}}}{action}Result")
        ET.SubElement(res, f"{{{TNS}}}responseCode").text = str(code)
        ET.SubElement(res, f"{{{TNS}}}responseMessage").text = message
        return res

    def _did(self, parent: ET.Element, tn: str, code: int, status: str,
             **extra: str) -> None:
        did = ET.SubElement(parent, f"{{{TNS}}}DID")
        for tag, value in (("tn", tn), ("status", status), ("statusCode", str(code)),
                           *extra.items()):
            ET.SubElement(did, f"{{{TNS}}}{tag}").text = value

    def route(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        body = req.body
        if body is None or body.find("Body") is None or not len(body.find("Body")):
            return 400, b"bad SOAP request", {}
        call = body.find("Body")[0]
        action = call.tag
        if call.findtext("login") != self.login or call.findtext("secret") != self.secret:
            return 200, (action, self._result(action, 101, "Invalid login")), {}
        if action == "getDIDs":
            npa, nxx = call.findtext("npa") or "", call.findtext("nxx") or ""
            res = self._result(action)
            locs = ET.SubElement(res, f"{{{TNS}}}DIDLocators")
            seeded = [(tn, rc) for tn, rc in SEEDED.get(npa, [])
                      if f"+1{tn}" not in self.sold]
            generated = [(n[2:], "SIMCITY") for n in
                         available_numbers(nxx or npa, 20, self.sold)]
            for tn, rc in (seeded + generated)[:20]:
                loc = ET.SubElement(locs, f"{{{TNS}}}DIDLocator")
                for tag, value in (("tn", tn), ("rateCenter", rc), ("state", "UT"),
                                   ("tier", "2"), ("outboundCNAM", "true"), ("t38", "true")):
                    ET.SubElement(loc, f"{{{TNS}}}{tag}").text = value
            return 200, (action, res), {}
        params = call.find("didParams")
        param = params.find("DIDParam") if params is not None else None
        tn = (param.findtext("tn") if param is not None else "") or ""
        res = self._result(action)
        dids = ET.SubElement(res, f"{{{TNS}}}DIDs")
        num = f"+1{tn}"
        with self.lock:
            if action == "assignDID":
                if num in self.sold:
                    self._did(dids, tn, 106230, "Number not available")
                else:
                    ref = param.findtext("refId") or ""
                    self.sold[num] = {"refId": ref, "epg": param.findtext("epg")}
                    self.record.orders.append({"number": num, "refId": ref})
                    self._did(dids, tn, 100, f"Assigned to endpoint '{param.findtext('epg')}'")
            elif action == "releaseDID":
                if num not in self.sold:
                    self._did(dids, tn, 106231, "Number currently available")
                else:
                    self.sold.pop(num)
                    self.record.releases.append({"number": num})
                    self._did(dids, tn, 100, "Released")
            elif action == "queryDID":
                order = self.sold.get(num)
                if order is None:
                    self._did(dids, tn, 100, "Number currently available",
                              availability="available", refId="")
                else:
                    self._did(dids, tn, 100, "Number currently assigned to you",
                              availability="assigned", refId=order["refId"])
            else:
                return 200, (action, self._result(action, 102, "Unknown action")), {}
        return 200, (action, res), {}
