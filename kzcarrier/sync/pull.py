"""`kzcarrier sync pull` / `push`: copy what kzcarrier needs between two CouchDBs.

Each source database is read through its `_changes` feed from a checkpoint (a document
per source database in the target's `kzcarrier` database), one page at a time; a page is
written (bulk, at the target's current revisions) before its checkpoint moves, so a run
killed at any point resumes where it stopped and a re-run copies only what changed.
Unchanged documents are skipped. Number documents are migrated on the way in (3.x/4.x/5.x
→ the 4.x/5.x shape, every field kept); account copies are written from the number
documents, the source of truth (a stale or differing copy at the source is not carried
over); a 3.x `phone_numbers` summary becomes per-number documents and copies. kzcarrier's
own request fields on the target are kept.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ..couch.client import Couch
from ..numbers import SERVICE_DB, account_db, account_id_of_db, is_account_id, number_db
from . import (
    OWN_FIELDS,
    comparable,
    is_account_db,
    is_number_id,
    keep_doc,
    number_content,
    unstable_fields,
    wanted_dbs,
)

PAGE = 500
DELETE = object()
UNSTABLE = "\x00unstable"  # marks migrated timestamps inside a content dict (never stored)


@dataclass
class SyncReport:
    dry_run: bool = False
    databases: int = 0
    copied: int = 0
    skipped: int = 0
    deleted: int = 0
    converted: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "databases": self.databases, "copied": self.copied,
                "skipped": self.skipped, "deleted": self.deleted, "converted": self.converted,
                "failed": [{"db": d, "id": i, "reason": r} for d, i, r in self.failed]}


class Copier:
    def __init__(self, source: Couch, target: Couch, dry_run: bool = False,
                 progress: Callable[[int], None] | None = None):
        self.source = source
        self.target = target
        self.report = SyncReport(dry_run=dry_run)
        self.progress = progress
        self._account_dbs: set[str] = set()

    # --- driving -------------------------------------------------------------------------

    def run(self) -> SyncReport:
        dbs = wanted_dbs(self.source.all_dbs())
        self._account_dbs = {db for db in dbs if is_account_db(db)}
        for db in dbs:
            self.copy_db(db)
            self.report.databases += 1
            if self.progress:
                self.progress(1)
        return self.report

    def total(self) -> int:
        return len(wanted_dbs(self.source.all_dbs()))

    def _checkpoint_id(self, db: str) -> str:
        digest = hashlib.sha1(f"{self.source.url}|{db}".encode()).hexdigest()[:20]
        return f"sync:{digest}"

    def _since(self, db: str) -> Any:
        if not self.target.db_exists(SERVICE_DB, cached=True):
            return 0
        doc = self.target.get(SERVICE_DB, self._checkpoint_id(db), missing_ok=True)
        return (doc or {}).get("seq", 0)

    def _save_checkpoint(self, db: str, seq: Any) -> None:
        self.target.ensure_db(SERVICE_DB)
        self.target.update(SERVICE_DB, self._checkpoint_id(db), lambda d: {
            **(d or {}), "type": "sync_checkpoint", "source": self.source.url, "db": db,
            "seq": seq})

    def copy_db(self, db: str) -> None:
        since = self._since(db)
        while True:
            page = self.source.changes(db, since, limit=PAGE, include_docs=True)
            self.apply(db, page.results)
            since = page.last_seq
            if not self.report.dry_run and page.results:
                self._save_checkpoint(db, since)
            if len(page.results) < PAGE:
                return

    # --- one page ------------------------------------------------------------------------

    def apply(self, db: str, rows: list[dict[str, Any]]) -> None:
        writes: dict[str, dict[str, Any]] = {}
        for row in rows:
            doc_id = row["id"]
            if row.get("deleted"):
                if not doc_id.startswith("_design/"):
                    writes.setdefault(db, {})[doc_id] = DELETE
                continue
            doc = row.get("doc") or {}
            if not keep_doc(db, doc):
                continue
            try:
                if db.startswith("numbers/"):
                    content = number_content(doc)
                    content[UNSTABLE] = unstable_fields(doc)
                    writes.setdefault(db, {})[doc_id] = content
                elif is_account_db(db) and is_number_id(doc_id):
                    continue  # copies are written from the number documents
                elif is_account_db(db) and doc_id == "phone_numbers":
                    self._convert_summary(db, doc)
                else:
                    writes.setdefault(db, {})[doc_id] = self._plain(db, doc)
            except Exception as exc:  # one bad document never stops the copy
                self.report.failed.append((db, doc_id, f"{type(exc).__name__}: {exc}"))
        for target_db, docs in writes.items():
            before = self.write(target_db, docs)
            if target_db.startswith("numbers/"):
                self._account_copies(docs, before)

    def _plain(self, db: str, doc: dict[str, Any]) -> dict[str, Any]:
        if doc.get("_attachments"):
            doc = self.source.get(db, doc["_id"], attachments=True) or doc
        body = {k: v for k, v in doc.items() if k not in ("_rev", "_revisions")}
        return body

    def _account_copies(self, docs: dict[str, Any],
                        before: dict[str, dict[str, Any] | None]) -> None:
        copies: dict[str, dict[str, Any]] = {}
        for num, content in docs.items():
            old_owner = (before.get(num) or {}).get("pvt_assigned_to")
            new_owner = None if content is DELETE else content.get("pvt_assigned_to")
            if is_account_id(new_owner) and self._has_account_db(account_db(new_owner)):
                copies.setdefault(account_db(new_owner), {})[num] = content
            if is_account_id(old_owner) and old_owner != new_owner:
                copies.setdefault(account_db(old_owner), {})[num] = DELETE
        for db, items in copies.items():
            self.write(db, items)

    def _has_account_db(self, db: str) -> bool:
        return db in self._account_dbs or self.target.db_exists(db, cached=True)

    def _convert_summary(self, db: str, summary: dict[str, Any]) -> None:
        """3.x `phone_numbers`: numbers the numbers databases do not hold are rebuilt from
        their summary entries, every key kept."""
        account = account_id_of_db(db)
        for num, entry in summary.items():
            if not is_number_id(num) or not isinstance(entry, dict):
                continue
            if self.source.get(number_db(num), num, missing_ok=True) is not None:
                continue  # the number document is copied with its database
            doc: dict[str, Any] = {"_id": num}
            known = {"state": "pvt_number_state", "features": "pvt_features",
                     "assigned_to": "pvt_assigned_to", "used_by": "pvt_used_by",
                     "created": "pvt_created", "updated": "pvt_modified",
                     "module_name": "pvt_module_name"}
            for key, value in entry.items():
                doc[known.get(key, f"pvt_{key}")] = value
            doc.setdefault("pvt_assigned_to", account)
            content = number_content(doc)
            before = self.write(number_db(num), {num: content})
            self._account_copies({num: content}, before)
        self.report.converted += 1

    # --- writing -------------------------------------------------------------------------

    def write(self, db: str, docs: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
        """Bring `docs` (id -> content or DELETE) onto the target; returns what the target
        held before."""
        exists = self.target.db_exists(db, cached=True)
        current = self.target.bulk_get(db, list(docs)) if exists else {i: None for i in docs}
        to_save = []
        for doc_id, content in docs.items():
            cur = current.get(doc_id)
            if content is DELETE:
                if cur is not None:
                    self.report.deleted += 1
                    to_save.append({"_id": doc_id, "_rev": cur["_rev"], "_deleted": True})
                continue
            for key in content.pop(UNSTABLE, ()):
                if cur is not None and isinstance(cur.get(key), int):
                    content[key] = cur[key]  # keep the time the first migration gave it
            merged = dict(content)
            for key in OWN_FIELDS:
                if cur is not None and key in cur and key not in merged:
                    merged[key] = cur[key]
            if comparable(cur) == comparable(merged):
                self.report.skipped += 1
                continue
            if cur is not None:
                merged["_rev"] = cur["_rev"]
            to_save.append(merged)
        if self.report.dry_run:
            self.report.copied += sum(1 for d in to_save if not d.get("_deleted"))
            return current
        if not to_save:
            return current
        if not exists:
            self.target.create_db(db)
        for doc, result in zip(to_save, self.target.bulk_save(db, to_save)):
            if result.get("error"):
                self.report.failed.append((db, doc["_id"],
                                           f"{result['error']}: {result.get('reason', '')}"))
            elif not doc.get("_deleted"):
                self.report.copied += 1
        return current


def copy(source: Couch, target: Couch, dry_run: bool = False,
         progress: Callable[[int], None] | None = None) -> SyncReport:
    return Copier(source, target, dry_run, progress).run()
