"""A Dash (Bandwidth's emergency provisioning) XML API simulator: the verbs KAZOO's
knm_dash_e911 sends (`validateLocation`, `addLocation`, `provisionLocation`, `removeURI`)
plus `getLocationsByURI`, which kzcarrier asks before registering so nothing is registered
twice. Addresses are judged like a geocoder would, crudely: a postal code of five digits
and a street address starting with a house number are valid; a locality called
"Springfield" matches two places (the client must choose)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from . import Request, XmlSimulator

FIELDS = ("address1", "address2", "community", "state", "postalcode")


class DashE911Simulator(XmlSimulator):
    name = "dash_e911"

    def __init__(self, seed: int = 1, user: str = "kzcarrier", password: str = "sim-pass"):
        super().__init__(seed)
        self.user, self.password = user, password
        self.locations: dict[str, dict[str, Any]] = {}     # location id -> location
        self.uris: dict[str, str] = {}                      # tel: uri -> provisioned id
        self._ids = 100

    def route(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        if not self.basic_auth_ok(req, self.user, self.password):
            return 401, b"unauthorized", {}
        verb = req.path.rstrip("/").rsplit("/", 1)[-1]
        body = req.body
        if req.method != "POST" or body is None:
            return 400, b"bad request", {}
        handlers = {"validatelocation": self._validate, "addlocation": self._add,
                    "provisionlocation": self._provision, "removeuri": self._remove,
                    "getlocationsbyuri": self._by_uri}
        if verb not in handlers:
            return 404, b"not found", {}
        with self.lock:
            return 200, handlers[verb](body), {}

    # --- the verbs -----------------------------------------------------------------------

    @staticmethod
    def _fields(body: ET.Element) -> dict[str, str]:
        loc = body.find("location")
        return {f: (loc.findtext(f) or "") for f in FIELDS} if loc is not None else {}

    def _judge(self, fields: dict[str, str]) -> tuple[str, str]:
        postal, street = fields.get("postalcode", ""), fields.get("address1", "")
        if not (postal.isdigit() and len(postal) == 5) or not street[:1].isdigit():
            return "INVALID", "Location is not valid"
        return "GEOCODED", "Location is geocoded"

    def _location(self, fields: dict[str, str], code: str, description: str,
                  location_id: str | None = None, uri: str | None = None) -> ET.Element:
        loc = ET.Element("Location")
        for tag in FIELDS:
            if fields.get(tag):
                ET.SubElement(loc, tag).text = fields[tag].upper()
        if location_id:
            ET.SubElement(loc, "locationid").text = location_id
        if uri:
            ET.SubElement(loc, "callername").text = self.locations[location_id or ""]["name"]
        ET.SubElement(loc, "latitude").text = "37.8053"
        ET.SubElement(loc, "longitude").text = "-122.4345"
        ET.SubElement(loc, "plusfour").text = "1234"
        legacy = ET.SubElement(loc, "legacydata")
        ET.SubElement(legacy, "housenumber").text = fields.get("address1", "").split(" ")[0]
        status = ET.SubElement(loc, "status")
        ET.SubElement(status, "code").text = code
        ET.SubElement(status, "description").text = description
        return loc

    def _validate(self, body: ET.Element) -> ET.Element:
        fields = self._fields(body)
        out = ET.Element("validateLocationResponse")
        code, why = self._judge(fields)
        if code == "GEOCODED" and fields.get("community", "").lower() == "springfield":
            for state in ("IL", "MA"):
                out.append(self._location({**fields, "state": state}, code, why))
            return out
        out.append(self._location(fields, code, why))
        return out

    def _add(self, body: ET.Element) -> ET.Element:
        fields = self._fields(body)
        uri = body.findtext("uri/uri") or ""
        name = body.findtext("uri/callername") or ""
        out = ET.Element("addLocationResponse")
        code, why = self._judge(fields)
        if code != "GEOCODED":
            out.append(self._location(fields, code, why))
            return out
        self._ids += 1
        location_id = str(self._ids)
        self.locations[location_id] = {"fields": fields, "uri": uri, "name": name,
                                       "status": "GEOCODED"}
        out.append(self._location(fields, code, why, location_id, uri))
        return out

    def _provision(self, body: ET.Element) -> ET.Element:
        location_id = body.findtext("locationid") or ""
        loc = self.locations.get(location_id)
        if loc is None:
            return _status("provisionLocationResponse", "LocationStatus", "ERROR",
                           "no such location")
        old = self.uris.get(loc["uri"])
        if old and old in self.locations:
            self.locations[old]["status"] = "REMOVED"
        loc["status"] = "PROVISIONED"
        self.uris[loc["uri"]] = location_id
        self.record.features.append({"number": "+" + loc["uri"][4:], "e911": "provisioned",
                                     "location_id": location_id})
        return _status("provisionLocationResponse", "LocationStatus", "PROVISIONED")

    def _remove(self, body: ET.Element) -> ET.Element:
        uri = body.findtext("uri") or ""
        location_id = self.uris.pop(uri, None)
        if location_id is None:
            return _status("removeURIResponse", "URIStatus", "ERROR", "URI not found")
        self.locations[location_id]["status"] = "REMOVED"
        self.record.features.append({"number": "+" + uri[4:], "e911": "removed",
                                     "location_id": location_id})
        return _status("removeURIResponse", "URIStatus", "REMOVED")

    def _by_uri(self, body: ET.Element) -> ET.Element:
        uri = body.findtext("uri") or ""
        out = ET.Element("getLocationsByURIResponse")
        found = ET.SubElement(out, "Locations")
        for location_id, loc in self.locations.items():
            if loc["uri"] == uri:
                found.append(self._location(loc["fields"], loc["status"], loc["status"],
                                            location_id, uri))
        return out

    def registered(self, number: str) -> dict[str, str] | None:
        """The address provisioned for `number` now (for tests), or None."""
        location_id = self.uris.get(f"tel:{number.lstrip('+')}")
        return self.locations[location_id]["fields"] if location_id else None


def _status(verb: str, tag: str, code: str, description: str | None = None) -> ET.Element:
    """`<verb><tag><code>..</code>[<description>..</description>]</tag></verb>`."""
    out = ET.Element(verb)
    status = ET.SubElement(out, tag)
    ET.SubElement(status, "code").text = code
    if description:
        ET.SubElement(status, "description").text = description
    return out
