"""Dash, Bandwidth's emergency provisioning XML API (`knm_dash_e911`, KAZOO's default
E911 provider; reference/kazoo-feature-providers.md §5)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from ..carriers.http import HttpCarrier
from ..errors import ByCarrier, Invalid, Unspecified
from . import ProviderRun
from .e911 import E911, REQUIRED, MultipleChoice, caller_name, clean

if TYPE_CHECKING:
    from ..model.document import PhoneNumber


DASH_URL = "https://service.dashcs.com/dash-api/xml/emergencyprovisioning/v1"
LOCATION_KEYS = {"address1": "street_address", "address2": "extended_address",
                 "activated_time": "activated_time", "callername": "caller_name",
                 "comments": "comments", "community": "locality",
                 "customerorderid": "order_id", "latitude": "latitude",
                 "longitude": "longitude", "locationid": "location_id",
                 "plusfour": "plus_four", "postalcode": "postal_code", "state": "region"}


class DashApi(HttpCarrier):
    """Transport only: Basic auth, XML in and out, KAZOO's error mapping."""

    name = "knm_dash_e911"
    url_key = "emergency_provisioning_url"
    default_url = DASH_URL

    def call(self, verb: str, number: str, *children: ET.Element) -> ET.Element:
        cfg = self.configuration()
        body = ET.Element(verb)
        body.extend(children)
        resp = self.send("POST", verb.lower(), number,
                         content=b'<?xml version="1.0"?>' + ET.tostring(body),
                         auth=(str(cfg.get("auth_username") or ""),
                               str(cfg.get("auth_password") or "")),
                         headers={"Content-Type": "text/xml", "Accept": "*/*"})
        try:
            return ET.fromstring(resp.content)
        except ET.ParseError as exc:
            raise ByCarrier(number, self.name, "empty_response", transient=True) from exc


def location_xml(address: dict[str, Any]) -> ET.Element:
    loc = ET.Element("location")
    for tag, key in (("address1", "street_address"), ("address2", "extended_address"),
                     ("community", "locality"), ("state", "region"),
                     ("postalcode", "postal_code")):
        if address.get(key):
            ET.SubElement(loc, tag).text = str(address[key])
    ET.SubElement(loc, "type").text = "ADDRESS"
    return loc


def location_json(loc: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tag, key in LOCATION_KEYS.items():
        text = loc.findtext(tag)
        if text:
            out[key] = text
    status = loc.findtext("status/code")
    if status:
        out["status"] = status
    legacy = loc.find("legacydata")
    out["legacy_data"] = {} if legacy is None else {
        k: legacy.findtext(t) for t, k in (("housenumber", "house_number"),
                                           ("predirectional", "predirectional"),
                                           ("streetname", "streetname"), ("suite", "suite"))
        if legacy.findtext(t)}
    return out


def _uri(number: str) -> ET.Element:
    uri = ET.Element("uri")
    uri.text = f"tel:{number.lstrip('+')}"
    return uri


def _same_place(loc: dict[str, Any], address: dict[str, Any]) -> bool:
    return all(clean(loc.get(k)) == clean(address.get(k)) for k in REQUIRED)


class DashE911(E911):
    def _api(self) -> DashApi:
        return DashApi(self.ctx)

    def validate(self, pn: "PhoneNumber", address: dict[str, Any]) -> None:
        root = self._api().call("validateLocation", pn.number, location_xml(address))
        found = root.findall(".//Location")
        codes = [loc.findtext("status/code") or "" for loc in found]
        if len(found) > 1 and all(c == "GEOCODED" for c in codes):
            raise MultipleChoice(address, [location_json(loc) for loc in found])
        code = codes[0] if codes else ""
        why = found[0].findtext("status/description") if found else "no location"
        if code == "INVALID":
            raise Invalid(f"{why} ({json.dumps(address, sort_keys=True)})")
        if code not in ("GEOCODED", "PROVISIONED"):
            raise Unspecified(why or code or "no status", pn.number)

    def register(self, pn: "PhoneNumber", run: ProviderRun, address: dict[str, Any]) -> None:
        api = self._api()
        run.before_call(pn, self.name)
        have = api.call("getLocationsByURI", pn.number, _uri(pn.number))
        for loc in have.findall(".//Location"):
            stored = location_json(loc)
            if stored.get("status") == "PROVISIONED" and _same_place(stored, address):
                self._done(pn, stored)               # registered before: adopt it
                return
        uri = ET.Element("uri")
        uri.append(_uri(pn.number))
        ET.SubElement(uri, "callername").text = caller_name(address, run)
        root = api.call("addLocation", pn.number, uri, location_xml(address))
        loc = root.find(".//Location")
        code = loc.findtext("status/code") if loc is not None else None
        if loc is None or code not in ("GEOCODED", "PROVISIONED"):
            why = loc.findtext("status/description") if loc is not None else None
            raise Unspecified(why or code or "no location", pn.number)
        stored = location_json(loc)
        if code == "GEOCODED":
            locid = ET.Element("locationid")
            locid.text = stored.get("location_id", "")
            answer = api.call("provisionLocation", pn.number, locid)
            stored["status"] = answer.findtext(".//LocationStatus/code") or code
        self._done(pn, stored)

    @staticmethod
    def _done(pn: "PhoneNumber", stored: dict[str, Any]) -> None:
        pn.set_public("e911", stored)       # KAZOO keeps Dash's answer in both places
        pn.set_feature("e911", stored)

    def remove(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        run.before_call(pn, self.name)
        try:
            self._api().call("removeURI", pn.number, _uri(pn.number))
        except ByCarrier as exc:
            if exc.transient:
                raise                 # not removed yet: the request is retried
