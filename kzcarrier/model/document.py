"""The number document: read any KAZOO version, write KAZOO 4.x/5.x's shape. Pure.

`PhoneNumber.from_json` is `knm_phone_number:from_json/1` with one difference of principle:
nothing is dropped. Fields kzcarrier does not know (and the legacy ones KAZOO discards, such
as `pvt_resource_db` or `pvt_authorizing_account`) are kept; 3.x `pvt_module_data` becomes
`pvt_carrier_data` instead of vanishing. `to_json` writes the 4.x/5.x field set (§3.1 of
reference/kazoo-number-docs.md) over those kept fields. See design_docs/number-documents.md.
"""
from __future__ import annotations

import time
from enum import Enum
from typing import Any

from ..json_copy import copy_json
from ..numbers import encode_db, number_db

GREGORIAN_UNIX_OFFSET = 62167219200  # seconds from 0000-01-01 to 1970-01-01


def now_gregorian() -> int:
    return int(time.time()) + GREGORIAN_UNIX_OFFSET


class State(str, Enum):
    """`pvt_state` values (`knm_phone_number:is_state/1`)."""

    DISCOVERY = "discovery"
    AVAILABLE = "available"
    RESERVED = "reserved"
    IN_SERVICE = "in_service"
    PORT_IN = "port_in"
    PORT_OUT = "port_out"
    RELEASED = "released"
    AGING = "aging"
    DELETED = "deleted"


STATES = {s.value for s in State}
LOCAL_MODULES = ("knm_local", "knm_mdn")
LEGACY_E911 = ("dash_e911", "vitelity_e911")

# Private fields the 4.x/5.x writer owns; everything else is carried through untouched.
_OPTIONAL = ("pvt_assigned_to", "pvt_previously_assigned_to", "pvt_used_by",
             "pvt_reserve_history", "pvt_features", "pvt_features_allowed",
             "pvt_features_denied", "pvt_carrier_data", "pvt_region")


def is_empty(value: Any) -> bool:
    """KAZOO's `props:filter_empty`: undefined, "", [] and {} are not written."""
    return value is None or value == "" or value == [] or value == {}


def migrate_module_name(name: Any, default: str) -> str:
    if not isinstance(name, str) or name in ("", "undefined"):
        return default
    if name in ("knm_bandwidth", "wnm_bandwidth"):
        return "knm_bandwidth2"
    if name.startswith("wnm_"):
        return "knm_" + name[4:]
    return name


def _features_from_list(names: list[Any], doc: dict[str, Any]) -> dict[str, Any]:
    """3.x stored features as a list of names; 4.x rebuilt the objects from the public fields."""
    out: dict[str, Any] = {}
    for name in names:
        if not isinstance(name, str):
            continue
        public = doc.get(name)
        if name == "force_outbound":
            out["force_outbound"] = bool(public)
        elif name == "ringback":
            pub = public if isinstance(public, dict) else {}
            out["ringback"] = {k: pub[k] for k in ("early", "transfer") if k in pub}
        elif name == "failover":
            pub = public if isinstance(public, dict) else {}
            out["failover"] = {k: pub[k] for k in ("e164", "sip") if k in pub}
        elif name == "prepend":
            pub = dict(public) if isinstance(public, dict) else {}
            pub["enabled"] = bool(pub.get("enabled"))
            out["prepend"] = pub
        elif name == "outbound_cnam":
            cnam = doc.get("cnam") if isinstance(doc.get("cnam"), dict) else {}
            out["outbound_cnam"] = {"display_name": cnam.get("display_name")}
        elif name in ("inbound_lookup", "inbound_cnam"):
            out["inbound_cnam"] = {"inbound_lookup": True}
        elif name in ("dash_e911", "vitelity_e911", "telnyx_e911", "e911"):
            value = public if public is not None else doc.get("e911")
            out["e911"] = value if isinstance(value, dict) else {}
        else:
            out[name] = public if public is not None else {}
    return out


class PhoneNumber:
    """One number document. Attribute names are KAZOO's (`assigned_to`, `reserve_history`...).

    `dirty` says the stored document differs from what `to_json` would write in a way that
    matters (a migration happened or a setter changed a value); a clean document need not
    be written back.
    """

    def __init__(self, doc: dict[str, Any], dirty: bool = False,
                 migrations: list[str] | None = None):
        self._doc = doc
        self.dirty = dirty
        # The request id to pass to the carrier as its order reference (never stored).
        self.order_reference: str | None = None
        self.migrations = migrations or []
        # Empty optional fields the stored document spelled out: kept as they were.
        self._stored_empties = {k: copy_json(doc[k]) for k in _OPTIONAL
                                if k in doc and is_empty(doc[k])}

    # --- reading -------------------------------------------------------------------------

    @classmethod
    def new(cls, number: str, state: str, module_name: str, **fields: Any) -> "PhoneNumber":
        now = now_gregorian()
        doc = {"_id": number, "pvt_state": state, "pvt_module_name": module_name,
               "pvt_created": now, "pvt_modified": now, "pvt_ported_in": False}
        pn = cls.from_json(doc)
        for key, value in fields.items():
            setattr(pn, key, value)
        pn.dirty = True
        return pn

    @classmethod
    def from_json(cls, stored: dict[str, Any], available_module_name: str = "knm_local",
                  ) -> "PhoneNumber":
        doc = copy_json(stored)
        done: list[str] = []

        if "pvt_state" not in doc and "pvt_number_state" in doc:
            doc["pvt_state"] = doc.pop("pvt_number_state")
            done.append("pvt_number_state -> pvt_state")
        elif "pvt_number_state" in doc:
            # Both present: pvt_state wins, the 3.x copy is stale and KAZOO drops it too.
            doc.pop("pvt_number_state")
            done.append("dropped stale pvt_number_state")

        if "pvt_module_data" in doc:
            legacy = doc.pop("pvt_module_data")
            current = doc.get("pvt_carrier_data")
            if isinstance(legacy, dict) and isinstance(current, dict):
                doc["pvt_carrier_data"] = {**legacy, **current}
            elif current is None or is_empty(current):
                doc["pvt_carrier_data"] = legacy
            else:
                doc["pvt_module_data"] = legacy  # cannot merge: keep it where it was
            if "pvt_module_data" not in doc:
                done.append("pvt_module_data -> pvt_carrier_data")

        module = migrate_module_name(doc.get("pvt_module_name"), available_module_name)
        if module != doc.get("pvt_module_name"):
            done.append(f"pvt_module_name {doc.get('pvt_module_name')!r} -> {module!r}")
            doc["pvt_module_name"] = module

        features = doc.get("pvt_features")
        if isinstance(features, list):
            if features:
                doc["pvt_features"] = _features_from_list(features, doc)
                done.append("pvt_features list -> object")
            else:
                doc["pvt_features"] = {}
        elif not isinstance(features, dict):
            doc["pvt_features"] = {}
        feats = doc["pvt_features"]
        legacy_feats = [k for k in LEGACY_E911 if k in feats]
        if legacy_feats:
            # vitelity wins when both exist, as in knm_phone_number
            feats["e911"] = feats.get("vitelity_e911", feats.get("dash_e911"))
            for k in legacy_feats:
                feats.pop(k)
            done.append("pvt_features legacy e911 -> e911")
        if module in LOCAL_MODULES and "local" not in feats:
            feats["local"] = {}  # implied by the module; KAZOO does not count it a change

        for key in LEGACY_E911:
            if key in doc and "e911" not in doc:
                doc["e911"] = copy_json(doc[key])
                done.append(f"public {key} copied to e911")

        used_by = doc.get("used_by")
        if isinstance(used_by, str) and used_by and not doc.get("pvt_used_by"):
            doc["pvt_used_by"] = used_by
            done.append("public used_by -> pvt_used_by")

        now = now_gregorian()
        for key in ("pvt_created", "pvt_modified"):
            if not isinstance(doc.get(key), int) or isinstance(doc.get(key), bool):
                doc[key] = now
                done.append(f"{key} set")

        if not isinstance(doc.get("pvt_ported_in"), bool):
            doc["pvt_ported_in"] = bool(doc.get("pvt_ported_in"))
        if not isinstance(doc.get("pvt_reserve_history"), list):
            doc["pvt_reserve_history"] = []
        pn = cls(doc, dirty=bool(done), migrations=done)
        pn._stored_empties = {k: v for k, v in pn._stored_empties.items()
                              if k in stored and stored[k] == v}
        return pn

    # --- fields --------------------------------------------------------------------------

    @property
    def number(self) -> str:
        return self._doc["_id"]

    @property
    def rev(self) -> str | None:
        return self._doc.get("_rev")

    @property
    def db(self) -> str:
        """The real (unencoded) number database name."""
        return number_db(self.number)

    def _set(self, key: str, value: Any) -> None:
        if self._doc.get(key) != value:
            self._doc[key] = value
            self.dirty = True
            self._doc["pvt_modified"] = now_gregorian()

    state = property(lambda self: self._doc.get("pvt_state"),
                     lambda self, v: self._set("pvt_state", State(v).value))
    module_name = property(lambda self: self._doc.get("pvt_module_name"))
    assigned_to = property(lambda self: self._doc.get("pvt_assigned_to") or None)
    previously_assigned_to = property(
        lambda self: self._doc.get("pvt_previously_assigned_to") or None)
    used_by = property(lambda self: self._doc.get("pvt_used_by") or None,
                       lambda self, v: self._set("pvt_used_by", v))
    reserve_history = property(lambda self: list(self._doc.get("pvt_reserve_history") or []),
                               lambda self, v: self._set("pvt_reserve_history", list(v)))
    features = property(lambda self: copy_json(self._doc.get("pvt_features") or {}),
                        lambda self, v: self._set("pvt_features", dict(v)))
    carrier_data = property(lambda self: copy_json(self._doc.get("pvt_carrier_data") or {}),
                            lambda self, v: self._set("pvt_carrier_data", dict(v or {})))
    ported_in = property(lambda self: bool(self._doc.get("pvt_ported_in")),
                         lambda self, v: self._set("pvt_ported_in", bool(v)))
    created = property(lambda self: self._doc.get("pvt_created"))
    modified = property(lambda self: self._doc.get("pvt_modified"))

    @module_name.setter
    def module_name(self, value: str) -> None:
        self._set("pvt_module_name", value)
        feats = self.features
        if value in LOCAL_MODULES and "local" not in feats:
            feats["local"] = {}
            self.features = feats
        elif value not in LOCAL_MODULES and "local" in feats:
            feats.pop("local")
            self.features = feats

    @assigned_to.setter
    def assigned_to(self, value: str | None) -> None:
        old = self.assigned_to
        if old == value:
            return
        if old:
            self._set("pvt_previously_assigned_to", old)
        self._set("pvt_assigned_to", value)
        self._set("pvt_used_by", None)

    def push_reserve_history(self, account_id: str | None) -> None:
        history = self.reserve_history
        if account_id and (not history or history[0] != account_id):
            self.reserve_history = [account_id] + history

    @property
    def public_fields(self) -> dict[str, Any]:
        return {k: copy_json(v) for k, v in self._doc.items()
                if not k.startswith("_") and not k.startswith("pvt_")}

    def set_public_fields(self, fields: dict[str, Any]) -> None:
        """KAZOO's `reset_doc`: the public part is replaced, private fields stay."""
        for key in list(self._doc):
            if not key.startswith("_") and not key.startswith("pvt_") and key not in fields:
                self._doc.pop(key)
                self.dirty = True
        for key, value in fields.items():
            if key.startswith("_") or key.startswith("pvt_"):
                continue
            self._set(key, copy_json(value))

    def merge_public_fields(self, fields: dict[str, Any]) -> None:
        """KAZOO's PATCH: `fields` deep-merged over the public part (objects merge, any
        other value replaces; `null` removes the key)."""
        merged = deep_merge(self.public_fields, fields)
        self.set_public_fields(merged)

    def feature(self, name: str) -> Any:
        return copy_json((self._doc.get("pvt_features") or {}).get(name))

    def set_feature(self, name: str, value: Any) -> None:
        """Set (or, with None, remove) one private feature."""
        feats = self.features
        if value is None:
            if name not in feats:
                return
            feats.pop(name)
        else:
            feats[name] = copy_json(value)
        self.features = feats

    def public(self, key: str) -> Any:
        return None if key.startswith(("_", "pvt_")) else copy_json(self._doc.get(key))

    def set_public(self, key: str, value: Any) -> None:
        if key.startswith(("_", "pvt_")):
            raise ValueError(f"{key} is not a public field")
        if value is None:
            if key in self._doc:
                self._doc.pop(key)
                self.dirty = True
        else:
            self._set(key, copy_json(value))

    def snapshot(self) -> dict[str, Any]:
        return copy_json(self._doc)

    def restore(self, snapshot: dict[str, Any], dirty: bool) -> None:
        self._doc = copy_json(snapshot)
        self.dirty = dirty

    def shell(self) -> "PhoneNumber":
        """Only what is not the number itself: `_id`, `_rev` and the engine's fields. A
        new number built over a stored search result (`discovery`) adopts it."""
        return PhoneNumber.from_json({k: v for k, v in self._doc.items() if k in SHELL_KEYS})

    def adopt(self, placeholder: "PhoneNumber") -> None:
        """Take over a placeholder document (only `_id`, `_rev` and a request): its
        revision and every field this new number does not set itself."""
        for key, value in placeholder._doc.items():
            if key not in self._doc:
                self._doc[key] = copy_json(value)

    def get(self, key: str, default: Any = None) -> Any:
        return copy_json(self._doc.get(key, default))

    def set_private(self, key: str, value: Any) -> None:
        """Set a kzcarrier-owned private field (pvt_request_state, ...) without dirtying it."""
        if value is None:
            self._doc.pop(key, None)
        else:
            self._doc[key] = value

    # --- writing -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The 4.x/5.x document: always-written fields set, empty optional ones left out."""
        doc = copy_json(self._doc)
        doc["pvt_type"] = "number"
        doc["pvt_db_name"] = encode_db(self.db)
        for key in _OPTIONAL:
            if key in doc and is_empty(doc[key]):
                if not (key in self._stored_empties and self._stored_empties[key] == doc[key]
                        and type(self._stored_empties[key]) is type(doc[key])):
                    doc.pop(key)
        return doc


SHELL_KEYS = ("_id", "_rev", "pvt_request", "pvt_request_state", "pvt_transitions")


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = copy_json(base)
    for key, value in top.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy_json(value)
    return out
