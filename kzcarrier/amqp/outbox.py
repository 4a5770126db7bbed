"""Every document kzcarrier writes, recorded after the write for the publisher.

The outbox lives in the `kzcarrier` database, one entry per document
(`outbox:<db>:<id>`): a document written again before its announcement went out is
announced once, with its latest revision (what a cache flush needs), so the outbox never
holds more entries than documents changed while the broker was away. An entry is written
right after CouchDB accepted the document; a worker killed between the two loses that one
announcement (KAZOO's own publish is fire-and-forget too).
"""
from __future__ import annotations

import logging
import time
from typing import Any

from ..couch.client import Couch
from ..errors import StorageError
from ..numbers import SERVICE_DB
from .messages import action_of

log = logging.getLogger("kzcarrier.amqp")
PREFIX = "outbox:"
# Databases whose documents KAZOO's caches hold; kzcarrier's own are not announced.
ANNOUNCED = ("numbers/", "account/", "system_config", "accounts", "port_requests",
             "services")


def announced(db: str) -> bool:
    return db.startswith(ANNOUNCED) and db != SERVICE_DB


class Outbox:
    def __init__(self, couch: Couch):
        self.couch = couch

    def record(self, db: str, docs: list[dict[str, Any]], results: list[dict[str, Any]],
               ) -> None:
        """The Couch client's write observer: one entry per document written."""
        if not announced(db):
            return
        entries = []
        for doc, result in zip(docs, results):
            if result.get("error") or not result.get("rev") or str(doc.get("_id", "")).startswith(
                    ("_design/", "_local/")):
                continue
            entries.append({
                "_id": f"{PREFIX}{db}:{doc['_id']}", "type": "announcement", "db": db,
                "id": doc["_id"], "rev": result["rev"], "at": time.time(),
                "action": action_of(doc, created=not doc.get("_rev")),
                "doc": {k: doc[k] for k in ("pvt_type", "pvt_account_id", "pvt_created",
                                            "pvt_modified", "pvt_deleted", "_deleted")
                        if k in doc}})
        if not entries:
            return
        try:
            self.couch.ensure_db(SERVICE_DB)
            saved = self.couch.bulk_save(SERVICE_DB, entries)
            for entry, result in zip(entries, saved):
                if result.get("error"):        # announced before, not sent yet: newest wins
                    self.couch.update(SERVICE_DB, entry["_id"],
                                      lambda d, e=entry: {**e, "_rev": (d or {}).get("_rev")})
        except StorageError as exc:       # never fail the write that was made
            log.warning("outbox: %d announcements not recorded: %s", len(entries), exc)

    def pending(self, limit: int = 500) -> list[dict[str, Any]]:
        if not self.couch.db_exists(SERVICE_DB, cached=True):
            return []
        rows = self.couch.all_docs(SERVICE_DB, start_key=PREFIX, end_key=PREFIX + "\ufff0")
        return [r["doc"] for r in rows[:limit] if r.get("doc")]

    def count(self) -> int:
        if not self.couch.db_exists(SERVICE_DB, cached=True):
            return 0
        return len(self.couch.all_docs(SERVICE_DB, include_docs=False, start_key=PREFIX,
                                       end_key=PREFIX + "\ufff0"))

    def done(self, entries: list[dict[str, Any]]) -> None:
        """Remove sent entries at the revision sent (one written again stays)."""
        if entries:
            self.couch.bulk_save(SERVICE_DB, [{"_id": e["_id"], "_rev": e["_rev"],
                                               "_deleted": True} for e in entries])
