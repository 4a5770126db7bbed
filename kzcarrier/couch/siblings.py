"""Sibling revisions: what a CouchDB cluster leaves when two writes at the same revision
are both accepted (the loser answered 202 instead of 409).

* `confirm` is the win rule: a 202 means the write reached fewer replicas than asked, and
  a concurrent write at the same revision may have been accepted too. A document counts as
  written only if, read back, our revision is the winner and has no sibling; otherwise it
  is reported as a conflict, so the caller re-reads and decides again. A 202 is never
  taken as a win on faith.
* `resolve` merges a document's siblings into one (the merge rules are the caller's:
  engine/conflicts.py for numbers, engine/journal.py for intents), written over the winner
  with the losers deleted, in one request.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..errors import DocConflict, StorageError
from ..json_copy import copy_json

if TYPE_CHECKING:   # the client imports this module
    from .client import Couch

Merge = Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]]


def confirm(couch: "Couch", db: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`_bulk_docs` results of a 202, each kept only if the document reads back as ours."""
    out = []
    for result in results:
        if result.get("error") or not result.get("rev"):
            out.append(result)
            continue
        try:
            now = couch.get(db, result["id"], conflicts=True, missing_ok=True)
        except StorageError:
            now = None
        if now is not None and now.get("_rev") == result["rev"] and not now.get("_conflicts"):
            out.append(result)
        else:
            out.append({"id": result["id"], "error": "conflict",
                        "reason": "accepted as a conflicting revision (202)"})
    return out


def resolve(couch: "Couch", db: str, doc_id: str, merge: Merge) -> dict[str, Any] | None:
    """The document with its sibling revisions (if any) merged by `merge(winner, losers)`."""
    for _ in range(10):
        doc = couch.get(db, doc_id, conflicts=True, missing_ok=True)
        if doc is None or not doc.get("_conflicts"):
            return doc
        revs = doc.pop("_conflicts")
        read = {r: couch.get(db, doc_id, rev=r, missing_ok=True) for r in revs}
        losers = [d for d in read.values() if d is not None]
        merged = merge(copy_json(doc), losers)
        merged["_id"], merged["_rev"] = doc_id, doc["_rev"]
        # CouchDB can read every listed sibling; pouchdb-server sometimes lists one it has
        # no body for, which can only be removed (compat: readable_conflicts)
        gone = [r for r, d in read.items()
                if d is not None or not couch.profile.readable_conflicts]
        batch = [merged] + [{"_id": doc_id, "_rev": r, "_deleted": True} for r in gone]
        couch._call(f"resolve {doc_id} in {db}", couch.client.post_bulk_docs, couch._db(db),
                    {"docs": batch})   # then read again: merged, and no sibling left
    raise DocConflict(f"resolve {doc_id} in {db}: still conflicting", 409)
