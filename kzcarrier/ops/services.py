"""Service quantities: what KAZOO's billing counts from an account's numbers
(`kz_services_quantities`, reference/kazoo-number-states.md §6), kept in the account's
`services` document after every change, beside KAZOO's own writers.

Quantities are recomputed from the account's numbers (the copies in its account database),
never incremented: writing them twice, or after a crash and a retry, gives the same
document, so nothing is counted twice. Only the three number categories are replaced;
KAZOO's others (users, devices...) stay. The account and its reseller chain are marked
`pvt_dirty`, as KAZOO's reconcile does, so KAZOO's service sync bills and cascades them.

A change marks its accounts first (`services:<account>:<number>` in the `kzcarrier`
database),
then writes the number, then reconciles and clears the mark at the revision it read: a
crash in between leaves the mark, and the engine's sweep reconciles it
(`kzcarrier services verify` does the same on demand). The engine itself leaves every mark
to its sweep: many changes to one account cost one recount, at most a sweep interval later.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable

from ..couch.client import Couch
from ..errors import DocNotFound
from ..model.document import now_gregorian
from ..numbers import SERVICE_DB, account_db, is_account_id

SERVICES_DB = "services"
HELD = ("reserved", "in_service", "port_in")
CATEGORIES = ("phone_numbers", "number_carriers", "number_services")
MARK = "services:"


def items_of(doc: dict[str, Any], classify: Callable[[str], str | None]) -> list[tuple[str, str]]:
    """The (category, item) pairs one number counts for."""
    features = doc.get("pvt_features") or {}
    items = []
    if "local" not in features:
        items.append(("phone_numbers", classify(doc["_id"]) or "unknown"))
    items.append(("number_carriers", doc.get("pvt_module_name") or "knm_local"))
    items.extend(("number_services", name) for name in sorted(features))
    return items


class Services:
    def __init__(self, couch: Couch, classify: Callable[[str], str | None]):
        self.couch = couch
        self.classify = classify

    def enabled(self) -> bool:
        """Only where KAZOO keeps services documents."""
        return self.couch.db_exists(SERVICES_DB, cached=True)

    def count(self, account: str) -> dict[str, dict[str, int]]:
        """The number categories of `account`'s quantities, from its numbers."""
        out: dict[str, dict[str, int]] = {c: {} for c in CATEGORIES}
        try:
            rows = self.couch.all_docs(account_db(account), start_key="+", end_key="+\ufff0")
        except DocNotFound:
            return out
        for row in rows:
            doc = row.get("doc") or {}
            if doc.get("pvt_state") not in HELD or doc.get("pvt_assigned_to") != account:
                continue
            for category, item in items_of(doc, self.classify):
                out[category][item] = out[category].get(item, 0) + 1
        return out

    def drift(self, account: str) -> dict[str, Any] | None:
        """What the services document says against the recount; None when they agree or
        there is no services document."""
        doc = self.couch.get(SERVICES_DB, account, missing_ok=True)
        if doc is None:
            return None
        have = {c: (doc.get("quantities") or {}).get(c) or {} for c in CATEGORIES}
        want = self.count(account)
        return None if have == want else {"account_id": account, "stored": have,
                                          "counted": want}

    def reconcile(self, account: str) -> bool:
        """Write the recount into the services document (and mark the reseller chain
        dirty). False when the account has no services document."""
        want = self.count(account)
        found: list[dict[str, Any]] = []

        def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            found[:] = [doc] if doc is not None else []
            if doc is None:
                return None
            quantities = {**(doc.get("quantities") or {}), **want}
            if quantities == doc.get("quantities") and doc.get("pvt_dirty"):
                return None
            return {**doc, "quantities": quantities, "pvt_dirty": True,
                    "pvt_modified": now_gregorian()}

        self.couch.update(SERVICES_DB, account, change)
        if not found:
            return False
        for ancestor in found[0].get("pvt_tree") or []:   # KAZOO's sync cascades them
            if is_account_id(ancestor):
                self.couch.update(SERVICES_DB, ancestor, _dirty)
        return True

    # --- marks: reconciles owed ----------------------------------------------------------

    def mark(self, owed: Iterable[tuple[str | None, str]]) -> None:
        """Mark (account, number) pairs, one `_bulk_docs`: one mark per number, so
        concurrent changes to one account never contend for a document. A pair marked
        already is marked again (a new revision), so a settle that read the old one
        leaves it for this change."""
        wanted = sorted({(a, n) for a, n in owed if is_account_id(a)})
        if not wanted:
            return
        self.couch.ensure_db(SERVICE_DB)
        results = self.couch.bulk_save(SERVICE_DB, [_mark(a, n, None) for a, n in wanted])
        for (account, number), result in zip(wanted, results):
            if result.get("error"):
                self.couch.update(SERVICE_DB, _mark_id(account, number),
                                  lambda d, a=account, n=number: _mark(a, n, d))

    def settle(self, account: str) -> None:
        """Reconcile `account`, then clear the marks read before the recount (one marked
        again meanwhile stays, for that change to settle)."""
        marks = self.couch.all_docs(SERVICE_DB, start_key=_mark_id(account, ""),
                                    end_key=_mark_id(account, "\ufff0")) \
            if self.couch.db_exists(SERVICE_DB, cached=True) else []
        self.reconcile(account)
        gone = [{"_id": r["id"], "_rev": r["value"]["rev"], "_deleted": True}
                for r in marks if r.get("value")]
        if gone:
            self.couch.bulk_save(SERVICE_DB, gone)      # a conflict: marked again, kept

    def owed(self) -> list[str]:
        """Accounts with marks, each once."""
        if not self.couch.db_exists(SERVICE_DB, cached=True):
            return []
        rows = self.couch.all_docs(SERVICE_DB, include_docs=False, start_key=MARK,
                                   end_key=MARK + "\ufff0")
        return sorted({r["id"][len(MARK):].split(":", 1)[0] for r in rows})


def _mark_id(account: str, number: str) -> str:
    return f"{MARK}{account}:{number}"


def _mark(account: str, number: str, doc: dict[str, Any] | None) -> dict[str, Any]:
    return {**(doc or {}), "_id": _mark_id(account, number), "type": "services",
            "account": account, "number": number, "at": time.time()}

def _dirty(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None or doc.get("pvt_dirty"):
        return None
    return {**doc, "pvt_dirty": True}
