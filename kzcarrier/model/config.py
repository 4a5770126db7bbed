"""`system_config` access with KAZOO's lookup rules (`kapps_config`, `kapps_account_config`).

System lookup: the node's section, then `default`, then the built-in default (from the
schema in schemas/). Account lookups read `configs_<category>` in the account database
(flat, no sections): `get_global` walks account -> reseller -> system, `get_from_reseller`
skips the account itself. Unlike KAZOO, a read never writes defaults back into the
document: kzcarrier can run against a KAZOO cluster's config without touching it.
"""
from __future__ import annotations

import json
import re
import time
from typing import Any, Iterator

from ..couch.client import Couch
from ..errors import ConfigError, DocNotFound
from ..json_copy import copy_json
from ..logs import Scrubber
from ..numbers import account_db, is_account_id
from . import schemas
from .document import now_gregorian

SYSTEM_CONFIG = "system_config"
NUMBER_MANAGER = "number_manager"
ACCOUNTS = "accounts"

# Carrier categories KAZOO defines (reference §5.3) plus kzcarrier's DB-only carriers.
KNOWN_CARRIERS = ("bandwidth", "bandwidth2", "telnyx", "vitelity", "voip_innovations",
                  "simwood", "voxbone", "other", "locality", "dash_e911", "local", "inventory",
                  "managed", "reserved", "reserved_reseller", "mdn", "inum")

SECRET_KEY = re.compile(r"(pass(word)?|token|secret|_key|apikey)$", re.IGNORECASE)
MASK = "********"


def mask_secrets(value: Any, key: str = "") -> Any:
    """A copy with every secret-looking value replaced, at any depth."""
    if isinstance(value, dict):
        return {k: mask_secrets(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, key) for v in value]
    if key and SECRET_KEY.search(key) and value not in (None, ""):
        return MASK
    return value


def secret_values(value: Any, key: str = "") -> Iterator[str]:
    """Every secret-looking string value, at any depth (what `mask_secrets` would mask)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from secret_values(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from secret_values(v, key)
    elif key and SECRET_KEY.search(key) and isinstance(value, str) and value:
        yield value


def parse_value(text: str) -> Any:
    """A CLI value: JSON when it parses (`true`, `5`, `["knm_local"]`), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def schema_kind(category: str) -> str:
    if category == NUMBER_MANAGER:
        return "system_config.number_manager"
    return "system_config.number_manager.carrier"


class Config:
    """Reads and writes number-manager configuration for one node (`node=None`: default) in
    one zone (`zone`, KAZOO's `kz_config:zone()`: its section sits between the two)."""

    def __init__(self, couch: Couch, node: str | None = None,
                 carriers: tuple[str, ...] = KNOWN_CARRIERS, ttl: float = 2.0,
                 zone: str | None = None):
        self.couch = couch
        self.node = node
        self.zone = zone
        self.carriers = carriers
        # Reads are cached for `ttl` seconds: the engine asks for the same documents for
        # every request. A write through this object drops the cache at once.
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self._sections: dict[str, tuple[float, dict[str, Any]]] = {}

    def read(self, db: str, doc_id: str) -> dict[str, Any] | None:
        """A document read through the same short cache (accounts, services)."""
        return self._read(db, doc_id)

    def _read(self, db: str, doc_id: str) -> dict[str, Any] | None:
        key = (db, doc_id)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl:
            return copy_json(hit[1])
        try:
            doc = self.couch.get(db, doc_id, missing_ok=True)
        except DocNotFound:
            doc = None
        for secret in secret_values(doc):   # a credential read is a credential never logged
            Scrubber.add(secret)
        self._cache[key] = (now, doc)
        return copy_json(doc)

    def invalidate(self) -> None:
        self._cache.clear()
        self._sections.clear()

    def check_category(self, category: str) -> None:
        known = [NUMBER_MANAGER] + [f"{NUMBER_MANAGER}.{c}" for c in self.carriers]
        if category not in known:
            raise ConfigError(f"unknown config category {category!r}",
                              "known: " + ", ".join(known))

    # --- system config -------------------------------------------------------------------

    def document(self, category: str) -> dict[str, Any] | None:
        self.check_category(category)
        return self._read(SYSTEM_CONFIG, category)

    def builtin(self, category: str) -> dict[str, Any]:
        return schemas.section_defaults(schema_kind(category))

    def section(self, category: str) -> dict[str, Any]:
        """The effective section: built-in defaults < `default` < this zone's section <
        this node's section (`kapps_config:get`: node, then zone, then default). A
        fresh dict each call; nested values are shared with the cache: do not modify them
        (`get` returns copies)."""
        hit = self._sections.get(category)
        now = time.monotonic()
        if hit is None or now - hit[0] >= self.ttl:
            doc = self.document(category) or {}
            out = self.builtin(category)
            out.update(doc.get("default") or {})
            if self.zone and isinstance(doc.get(self.zone), dict):
                out.update(doc[self.zone])
            if self.node and isinstance(doc.get(self.node), dict):
                out.update(doc[self.node])
            hit = self._sections[category] = (now, out)
        return dict(hit[1])

    def get(self, category: str, key: str, default: Any = None) -> Any:
        value = self.section(category).get(key)
        return copy_json(default if value is None else value)

    def set(self, category: str, key: str, value: Any, node: str | None = None) -> dict[str, Any]:
        """Set `key` in the `default` (or `node`) section; validated, conflict-safe."""
        self.check_category(category)
        scope = node or "default"
        if scope.startswith("_") or scope.startswith("pvt_"):
            raise ConfigError(f"invalid section name {scope!r}")

        def change(doc: dict[str, Any] | None) -> dict[str, Any]:
            now = now_gregorian()
            doc = doc or {"_id": category, "pvt_type": "config", "pvt_account_id": SYSTEM_CONFIG,
                          "pvt_account_db": SYSTEM_CONFIG, "pvt_created": now}
            section = doc.get(scope) if isinstance(doc.get(scope), dict) else {}
            section[key] = value
            doc[scope] = section
            doc["pvt_modified"] = now
            schemas.validate(schema_kind(category), doc, f"{category} {scope}.{key}")
            return doc

        self.couch.ensure_db(SYSTEM_CONFIG)
        self.invalidate()
        try:
            return self.couch.update(SYSTEM_CONFIG, category, change) or {}
        finally:
            self.invalidate()

    def init_defaults(self) -> list[str]:
        """Create `number_manager` with its built-in defaults if missing (never overwrite)."""
        self.couch.ensure_db(SYSTEM_CONFIG)
        created: list[str] = []

        def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            if doc is not None:
                return None
            now = now_gregorian()
            created.append(NUMBER_MANAGER)
            return {"_id": NUMBER_MANAGER, "default": self.builtin(NUMBER_MANAGER),
                    "pvt_type": "config", "pvt_account_id": SYSTEM_CONFIG,
                    "pvt_account_db": SYSTEM_CONFIG, "pvt_created": now, "pvt_modified": now}

        self.couch.update(SYSTEM_CONFIG, NUMBER_MANAGER, change)
        self.invalidate()
        return created

    # --- accounts ------------------------------------------------------------------------

    def account(self, account_id: str) -> dict[str, Any] | None:
        """The account document: from the account database, else from `accounts`."""
        if not is_account_id(account_id):
            return None
        for db in (account_db(account_id), ACCOUNTS):
            doc = self._read(db, account_id)
            if doc:
                return doc
        return None

    def reseller_of(self, account_id: str) -> str | None:
        doc = self.account(account_id) or {}
        if doc.get("pvt_reseller"):
            return account_id
        return doc.get("pvt_reseller_id") or None

    def account_section(self, account_id: str, category: str) -> dict[str, Any]:
        if not is_account_id(account_id):
            return {}
        doc = self._read(account_db(account_id), f"configs_{category}")
        return {k: v for k, v in (doc or {}).items()
                if not k.startswith("_") and not k.startswith("pvt_")}

    def get_global(self, account_id: str | None, category: str, key: str,
                   default: Any = None) -> Any:
        """Account -> reseller -> system (`kapps_account_config:get_global`)."""
        if account_id:
            value = self.account_section(account_id, category).get(key)
            if value is not None:
                return value
        return self.get_from_reseller(account_id, category, key, default)

    def get_from_reseller(self, account_id: str | None, category: str, key: str,
                          default: Any = None) -> Any:
        """Reseller (not the account itself) -> system."""
        reseller = self.reseller_of(account_id) if account_id else None
        if reseller and reseller != account_id:
            value = self.account_section(reseller, category).get(key)
            if value is not None:
                return value
        return self.get(category, key, default)
