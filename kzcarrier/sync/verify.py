"""`kzcarrier sync verify [--fix]`: compare the KAZOO side and the kzcarrier side, number by
number, and check the account copies of one side (KAZOO's "fix"/"migrate" maintenance).

Documents are compared in the 4.x/5.x shape (a 3.x document and its migrated copy are
equal), without `_rev`, `pvt_modified` and kzcarrier's own request fields. `--fix` repairs
one side from the other: missing and differing numbers are copied, account copies are
rewritten from the number documents and stale ones deleted. A number found only on the
side being repaired is reported and left alone: it may be a number that side sold.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..couch.client import Couch
from ..numbers import account_db, account_id_of_db, is_account_id
from . import OWN_FIELDS, comparable, is_account_db, keep_doc, number_content, unstable_fields
from .pull import DELETE, Copier

IGNORED = {"_rev", "pvt_modified", *OWN_FIELDS}
SIDES = ("kazoo", "kzcarrier")


@dataclass
class Difference:
    number: str
    kind: str                      # only_in_kazoo | only_in_kzcarrier | differs |
    #                                account_copy_missing | account_copy_stale | account_copy_differs
    side: str | None = None        # for account copies: the side checked
    account: str | None = None
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"number": self.number, "kind": self.kind}
        if self.side:
            out["side"] = self.side
        if self.account:
            out["account"] = self.account
        if self.fields:
            out["fields"] = self.fields
        return out

    def line(self) -> str:
        where = ""
        if self.side:
            where = f" [{self.side}{' ' + self.account if self.account else ''}]"
        detail = ", ".join(f"{k}: kazoo={v.get('kazoo')!r} kzcarrier={v.get('kzcarrier')!r}"
                           for k, v in self.fields.items())
        return f"{self.number:<16} {self.kind:<22}{where} {detail}".rstrip()


def shaped(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in number_content(doc).items() if k not in IGNORED}


def load_numbers(couch: Couch) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for db in couch.number_dbs():
        for row in couch.all_docs(db):
            doc = row.get("doc")
            if doc and keep_doc(db, doc):
                out[doc["_id"]] = doc
    return out


def compare_numbers(kazoo: dict[str, dict[str, Any]], ours: dict[str, dict[str, Any]],
                    ) -> list[Difference]:
    diffs = []
    for num in sorted(set(kazoo) | set(ours)):
        if num not in ours:
            diffs.append(Difference(num, "only_in_kazoo"))
        elif num not in kazoo:
            diffs.append(Difference(num, "only_in_kzcarrier"))
        else:
            a, b = shaped(kazoo[num]), shaped(ours[num])
            skip = unstable_fields(kazoo[num]) | unstable_fields(ours[num])
            fields = {k: {"kazoo": a.get(k), "kzcarrier": b.get(k)}
                      for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and k not in skip}
            if fields:
                diffs.append(Difference(num, "differs", fields=fields))
    return diffs


def check_copies(couch: Couch, numbers: dict[str, dict[str, Any]], side: str,
                 ) -> list[Difference]:
    """Every assigned number has an identical copy in its owner's database (if that
    database exists), and no account database holds a copy of a number it does not own."""
    account_dbs = {db for db in couch.all_dbs() if is_account_db(db)}
    expected: dict[tuple[str, str], dict[str, Any]] = {}
    for num, doc in numbers.items():
        owner = doc.get("pvt_assigned_to")
        if is_account_id(owner) and account_db(owner) in account_dbs:
            expected[(account_db(owner), num)] = doc
    actual: dict[tuple[str, str], dict[str, Any]] = {}
    for db in sorted(account_dbs):
        for row in couch.all_docs(db, start_key="+", end_key="+\ufff0"):
            if row.get("doc"):
                actual[(db, row["id"])] = row["doc"]
    diffs = []
    for (db, num), doc in sorted(expected.items()):
        acct = account_id_of_db(db)
        copy = actual.get((db, num))
        if copy is None:
            diffs.append(Difference(num, "account_copy_missing", side, acct))
        elif comparable(copy) != comparable(doc):
            a, b = comparable(doc) or {}, comparable(copy) or {}
            fields = {k: {"number": a.get(k), "copy": b.get(k)}
                      for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
            diffs.append(Difference(num, "account_copy_differs", side, acct, fields))
    for (db, num) in sorted(set(actual) - set(expected)):
        diffs.append(Difference(num, "account_copy_stale", side, account_id_of_db(db)))
    return diffs


def verify(kazoo: Couch, ours: Couch, side: str = "kzcarrier") -> list[Difference]:
    k, o = load_numbers(kazoo), load_numbers(ours)
    checked = o if side == "kzcarrier" else k
    return compare_numbers(k, o) + check_copies(ours if side == "kzcarrier" else kazoo,
                                                checked, side)


def fix(kazoo: Couch, ours: Couch, diffs: list[Difference], side: str = "kzcarrier",
        ) -> list[dict[str, Any]]:
    """Repair `side` from the other; returns what was changed."""
    reference, repaired = (kazoo, ours) if side == "kzcarrier" else (ours, kazoo)
    copier = Copier(reference, repaired)
    changes: list[dict[str, Any]] = []
    other = "kazoo" if side == "kzcarrier" else "kzcarrier"
    for d in diffs:
        if d.kind in ("differs", f"only_in_{other}"):
            db = f"numbers/{d.number[:5]}"
            doc = reference.get(db, d.number, missing_ok=True)
            if doc is None:
                continue
            content = number_content(doc)
            before = copier.write(db, {d.number: content})
            copier._account_copies({d.number: content}, before)
            changes.append({"number": d.number, "fixed": d.kind, "side": side})
        elif d.kind == f"only_in_{side}":
            changes.append({"number": d.number, "left": d.kind, "side": side})
    numbers = load_numbers(repaired)
    for d in check_copies(repaired, numbers, side):
        db = account_db(d.account) if d.account else None
        if db is None:
            continue
        if d.kind == "account_copy_stale":
            copier.write(db, {d.number: DELETE})
        else:
            body = {k: v for k, v in numbers[d.number].items() if k != "_rev"}
            copier.write(db, {d.number: body})
        changes.append({"number": d.number, "fixed": d.kind, "side": side,
                        "account": d.account})
    return changes
