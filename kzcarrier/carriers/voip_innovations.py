"""`knm_voip_innovations`: VoIP Innovations' SOAP API (reference §5.5). kzcarrier sends the
request id as the DID's `refId` on `assignDID`, and finds an interrupted order with
`queryDID` (assigned to us with that refId). Toll-free DIDs cannot be provisioned there.
Config `number_manager.voip_innovations`: `login`, `password`, `endpoint_group`,
`enable_provisioning` (true), `sandbox_provisioning` (false: true selects the dev
endpoint), `debug`, and kzcarrier's `api_url` (overrides both endpoints).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

from ..errors import ByCarrier
from .http import HttpCarrier

PRODUCTION = "https://backoffice.voipinnovations.com/Services/APIService.asmx"
SANDBOX = "http://dev.voipinnovations.com/VOIP/Services/APIService.asmx"
ENVELOPE = ("<?xml version='1.0' encoding='UTF-8'?><env:Envelope "
            "xmlns:xsd='http://www.w3.org/2001/XMLSchema' "
            "xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' "
            "xmlns:tns='http://tempuri.org/' "
            "xmlns:env='http://schemas.xmlsoap.org/soap/envelope/'><env:Body>"
            "<tns:{action}>{params}<tns:login>{login}</tns:login>"
            "<tns:secret>{secret}</tns:secret></tns:{action}></env:Body></env:Envelope>")
NIL = "xsi:nil='true'"


def _strip(root: ET.Element) -> ET.Element:
    for el in root.iter():
        el.tag = el.tag.split("}")[-1]
    return root


class VoipInnovations(HttpCarrier):
    def base_url(self) -> str:
        cfg = self.configuration()
        if cfg.get("api_url"):
            return str(cfg["api_url"])
        return SANDBOX if cfg.get("sandbox_provisioning") else PRODUCTION

    def _soap(self, action: str, params: str, number: str | None = None) -> ET.Element:
        cfg = self.configuration()
        if not cfg.get("login") or not cfg.get("password"):
            raise ByCarrier(number, self.name, "not configured: number_manager."
                            "voip_innovations needs login and password")
        body = ENVELOPE.format(action=action, params=params, login=escape(str(cfg["login"])),
                               secret=escape(str(cfg["password"])))
        resp = self.send("POST", "", number, content=body.encode(),
                         headers={"SOAPAction": f"http://tempuri.org/{action}",
                                  "Content-Type": "text/xml;charset=UTF-8"})
        try:
            root = _strip(ET.fromstring(resp.content))
        except ET.ParseError as exc:
            raise ByCarrier(number, self.name, "malformed answer from the carrier",
                            transient=True) from exc
        result = next(root.iter(f"{action}Result"), None)
        if result is None or result.findtext("responseCode") != "100":
            why = result.findtext("responseMessage") if result is not None else "no result"
            raise ByCarrier(number, self.name, str(why))
        return result

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        digits = prefix.lstrip("+")
        digits = digits[1:] if digits.startswith("1") else digits
        if len(digits) == 3:
            clause = f"<tns:npa>{digits}</tns:npa><tns:nxx {NIL}/>"
        elif len(digits) >= 6:
            clause = f"<tns:npa {NIL}/><tns:nxx>{digits[:6]}</tns:nxx>"
        else:
            return {}  # KAZOO crashed here; nothing to ask for a 4-5 digit prefix
        nils = "".join(f"<tns:{p} {NIL}/>" for p in ("cnam", "lata", "rateCenter", "state",
                                                      "t38", "tier"))
        result = self._soap("getDIDs", clause + nils)
        out: dict[str, dict[str, Any]] = {}
        for loc in result.iter("DIDLocator"):
            tn = loc.findtext("tn") or ""
            num = "+1" + tn
            if len(tn) != 10 or not tn.startswith(digits):
                continue
            out[num] = {"e164": num, "rate_center": loc.findtext("rateCenter"),
                        "state": loc.findtext("state"),
                        "cnam": loc.findtext("outboundCNAM") == "true",
                        "t38": loc.findtext("t38") == "true"}
            if len(out) >= quantity:
                break
        return out

    def _did_call(self, action: str, pn: Any, extra: str = "") -> None:
        """assignDID / releaseDID for one number: its statusCode must be 100."""
        result = self._soap(action, "<tns:didParams><tns:DIDParam>"
                            f"<tns:tn>{pn.number[2:]}</tns:tn>{extra}"
                            "</tns:DIDParam></tns:didParams>", pn.number)
        code, status = self._did_status(result)
        if code != "100":
            raise ByCarrier(pn.number, self.name, status or code)

    def _did_status(self, result: ET.Element) -> tuple[str, str]:
        did = next(result.iter("DID"), None)
        if did is None:
            return "", "no DID in the answer"
        return did.findtext("statusCode") or "", did.findtext("status") or ""

    def acquire_number(self, pn: Any) -> Any:
        if not self.provisioning_allowed(pn):
            return pn
        epg = escape(str(self.configuration().get("endpoint_group") or ""))
        ref = escape(pn.order_reference or "")
        self._did_call("assignDID", pn, f"<tns:epg>{epg}</tns:epg><tns:refId>{ref}</tns:refId>")
        return pn

    def disconnect_number(self, pn: Any) -> Any:
        self._did_call("releaseDID", pn)
        return pn

    def lookup_order(self, pn: Any, request_id: str, action: str) -> dict[str, Any] | None:
        if action != "acquire":
            return None
        result = self._soap("queryDID", "<tns:didParams><tns:DIDParam>"
                            f"<tns:tn>{pn.number[2:]}</tns:tn></tns:DIDParam></tns:didParams>",
                            pn.number)
        did = next(result.iter("DID"), None)
        if did is not None and did.findtext("availability") == "assigned" and \
                did.findtext("refId") == request_id:
            return {}
        return None
