"""Search across carriers (`knm_search`) and `check_numbers` across carriers (`knm_carriers:check`).

Every selected carrier is asked at once, each bounded by `number_search_timeout_ms`: a slow
or failing carrier never holds the others up (it is reported, not waited for). Results are
normalised to E.164, merged so that each number appears once with every carrier's offer,
sorted, then paged with offset/quantity (capped at `maximum_search_quantity`). Unlike KAZOO,
results can be stored as `discovery` number documents, with an expiry
(`discovery_expiry_d`), so that a client buys one by writing a `pvt_request` (as KAZOO 4.0
did); the watcher's sweep deletes expired ones.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from . import carriers as registry
from .carriers import CarrierContext
from .carriers.selection import available_carriers
from .couch.client import Couch
from .errors import KzError, StorageError
from .model.config import NUMBER_MANAGER, Config
from .model.document import PhoneNumber, now_gregorian
from .numbers import DIALCODES, NumberRules, number_db

DAY = 86400


def normalized_prefix(prefix: str, country: str = "US") -> str:
    """`knm_search`: the dial code of the country before the national digits typed."""
    digits = "".join(ch for ch in str(prefix) if not ch.isspace())
    if digits.startswith("+"):
        return digits
    if not digits.isdigit():
        raise KzError(f"invalid prefix {prefix!r}: digits only (national, or +E.164)")
    code = DIALCODES.get(country.upper())
    if code is None:
        raise KzError(f"unknown country {country!r}", "known: " + ", ".join(sorted(DIALCODES)))
    return code + digits


@dataclass
class SearchResult:
    prefix: str
    numbers: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    timed_out: list[str] = field(default_factory=list)
    stored: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "numbers": self.numbers, "total": self.total,
                "errors": self.errors, "timed_out": self.timed_out, "stored": self.stored}


class Search:
    def __init__(self, couch: Couch, config: Config, ctx: CarrierContext | None = None):
        self.couch = couch
        self.config = config
        self.ctx = ctx or CarrierContext(couch=couch, config=config)
        self.rules = NumberRules.from_config(config.section(NUMBER_MANAGER))

    def find(self, prefix: str, quantity: int = 1, offset: int = 0,
             carriers: list[str] | None = None, account_id: str | None = None,
             reseller_id: str | None = None, country: str = "US",
             store: bool = False) -> SearchResult:
        names = ([registry.module_name(c) for c in carriers] if carriers
                 else available_carriers(self.config, account_id, reseller_id))
        loaded = {name: registry.load(name, self.ctx) for name in names}
        return self.find_with(loaded, prefix, quantity, offset, account_id, reseller_id,
                              country, store)

    def find_with(self, loaded: dict[str, Any], prefix: str, quantity: int = 1,
                  offset: int = 0, account_id: str | None = None,
                  reseller_id: str | None = None, country: str = "US",
                  store: bool = False) -> SearchResult:
        """The fan-out over carrier instances already loaded (name -> carrier)."""
        np = normalized_prefix(prefix, country)
        maximum = int(self.config.get(NUMBER_MANAGER, "maximum_search_quantity"))
        timeout = float(self.config.get(NUMBER_MANAGER, "number_search_timeout_ms")) / 1000
        options = {"account_id": account_id, "reseller_id": reseller_id, "offset": 0,
                   "country": country.upper(), "quantity": maximum}
        result = SearchResult(np)
        pool = ThreadPoolExecutor(max(1, len(loaded)), thread_name_prefix="kzc-search")
        futures = {pool.submit(c.find_numbers, np, maximum, dict(options)): name
                   for name, c in loaded.items()}
        done, pending = wait(futures, timeout=timeout)
        pool.shutdown(wait=False, cancel_futures=True)
        merged: dict[str, list[dict[str, Any]]] = {}
        for fut in done:
            name = futures[fut]
            try:
                found = fut.result() or {}
            except KzError as exc:
                result.errors[name] = str(exc)
                continue
            except Exception as exc:  # a carrier's bug is its own problem
                result.errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            state = getattr(loaded[name], "search_state", "discovery")
            for raw, data in found.items():
                try:
                    num = self.rules.normalize(raw)
                except KzError:
                    continue
                merged.setdefault(num, []).append({"carrier": name, "state": state,
                                                   "carrier_data": data or {}})
        result.timed_out = sorted(futures[f] for f in pending)
        ordered = sorted(merged)
        result.total = len(ordered)
        page = ordered[offset:offset + min(max(1, quantity), maximum)]
        result.numbers = [{"number": n, "offers": merged[n]} for n in page]
        if store:
            result.stored = self.store_discovery(result.numbers)
        return result

    def store_discovery(self, numbers: list[dict[str, Any]]) -> int:
        """Write `discovery` documents for offers that must be bought; numbers that already
        have a document are left alone."""
        days = float(self.config.get(NUMBER_MANAGER, "discovery_expiry_d") or 1)
        expires = now_gregorian() + int(days * DAY)
        by_db: dict[str, list[dict[str, Any]]] = {}
        for entry in numbers:
            offer = next((o for o in entry["offers"] if o["state"] == "discovery"), None)
            if offer is None:
                continue
            pn = PhoneNumber.new(entry["number"], "discovery", offer["carrier"])
            pn.carrier_data = offer["carrier_data"]
            doc = pn.to_json()
            doc["pvt_discovery_expires"] = expires
            by_db.setdefault(number_db(entry["number"]), []).append(doc)
        stored = 0
        for db, docs in by_db.items():
            self.couch.ensure_db(db)
            existing = self.couch.bulk_get(db, [d["_id"] for d in docs])
            fresh = [d for d in docs if existing.get(d["_id"]) is None]
            for res in self.couch.bulk_save(db, fresh) if fresh else []:
                stored += 0 if res.get("error") else 1
        return stored

    def check(self, numbers: list[str], carriers: list[str] | None = None,
              ) -> dict[str, str]:
        """Each number's status at the first carrier (system list order) that knows it;
        "error" where every carrier failed."""
        nums = []
        for raw in numbers:
            num = self.rules.normalize(raw)
            if num not in nums:
                nums.append(num)
        names = carriers or available_carriers(self.config)
        out: dict[str, str] = {}
        unresolved = list(nums)
        for name in names:
            if not unresolved:
                break
            try:
                answer = registry.load(name, self.ctx).check_numbers(unresolved) or {}
            except Exception:
                out.update({n: "error" for n in unresolved if n not in out})
                continue
            for num, status in answer.items():
                out[num] = status
            unresolved = [n for n in unresolved if n not in answer]
        for num in unresolved:
            out.setdefault(num, "error")
        return {n: out[n] for n in nums}


@dataclass(frozen=True)
class Purged:
    deleted: int
    left: int       # discovery documents kept (not expired, or a request's); -1: unknown


def purge_discovery(couch: Couch, db: str, now: int | None = None) -> Purged:
    """Delete expired `discovery` documents of `db` (those no request is using)."""
    now = now or now_gregorian()
    try:
        rows = couch.view(db, "numbers", "status", start_key=["discovery"],
                          end_key=["discovery", {}], include_docs=True, reduce=False)
    except StorageError:
        return Purged(0, -1)
    gone = [{"_id": r["id"], "_rev": r["doc"]["_rev"], "_deleted": True} for r in rows
            if r.get("doc") and "pvt_request" not in r["doc"]
            and isinstance(r["doc"].get("pvt_discovery_expires"), (int, float))
            and r["doc"]["pvt_discovery_expires"] < now]
    if gone:
        couch.bulk_save(db, gone)
    return Purged(len(gone), len(rows) - len(gone))

