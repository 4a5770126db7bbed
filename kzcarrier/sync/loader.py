"""`kzcarrier db load DIR`: load a directory in KAZOO's fixture layout into CouchDB.

Layout (KAZOO's `kazoo_fixturedb`): one folder per database, named by its encoded name
(`numbers%2F%2B1555`), holding `docs/*.json` and, optionally, `attachment-index.csv`
(`doc_id, attachment_name, attachment_file_name`) naming `docs/*.att` files.

Loading is idempotent: a document whose content already matches is skipped, a changed one
is written over the current revision (the `_rev` in the file means nothing here). Number
documents are checked first (schema, right database); a bad one is reported and not
written, and the rest still load.
"""
from __future__ import annotations

import base64
import csv
import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..couch.client import Couch
from ..errors import KzError, SchemaError
from ..model import schemas
from ..numbers import decode_db, is_number_db, number_db


@dataclass
class LoadReport:
    databases: int = 0
    written: int = 0
    unchanged: int = 0
    attachments_skipped: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (db, file, reason)

    def to_json(self) -> dict[str, Any]:
        return {"databases": self.databases, "written": self.written,
                "unchanged": self.unchanged, "attachments_skipped": self.attachments_skipped,
                "failed": [{"db": d, "file": f, "reason": r} for d, f, r in self.failed]}


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("_rev", "_attachments")}


def _attachments(db_dir: Path) -> dict[str, dict[str, Any]]:
    index = db_dir / "attachment-index.csv"
    out: dict[str, dict[str, Any]] = {}
    if not index.exists():
        return out
    with index.open() as fh:
        for row in csv.reader(fh):
            if len(row) != 3 or row[0].strip() == "doc_id":
                continue
            doc_id, name, filename = (c.strip() for c in row)
            path = db_dir / "docs" / filename
            if not path.exists():
                continue
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            out.setdefault(doc_id, {})[name] = {
                "content_type": ctype, "data": base64.b64encode(path.read_bytes()).decode()}
    return out


def check_number_doc(db: str, doc: dict[str, Any]) -> None:
    """A number document must pass the schema and live in the database its number names."""
    if doc.get("_id", "").startswith("_design/"):
        return
    schemas.validate("number", doc, f"number document {doc.get('_id')!r}")
    if db.startswith("numbers/+") and number_db(doc["_id"]) != db:
        raise SchemaError(f"number document {doc['_id']!r}",
                          [("_id", f"belongs in {number_db(doc['_id'])}, not {db}")])


def load_directory(couch: Couch, root: Path,
                   progress: Callable[[int], None] | None = None) -> LoadReport:
    root = Path(root)
    if not root.is_dir():
        raise KzError(f"not a directory: {root}")
    report = LoadReport()
    for db_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        db = decode_db(db_dir.name)
        couch.ensure_db(db)
        report.databases += 1
        atts = _attachments(db_dir)
        docs: dict[str, dict[str, Any]] = {}
        files = sorted((db_dir / "docs").glob("*.json")) if (db_dir / "docs").is_dir() else []
        for path in files:
            try:
                doc = json.loads(path.read_text())
                if not isinstance(doc, dict) or not isinstance(doc.get("_id"), str):
                    raise KzError("not a JSON object with a string _id")
                if is_number_db(db):
                    check_number_doc(db, doc)
                docs[doc["_id"]] = doc
            except (ValueError, KzError) as exc:
                report.failed.append((db, path.name, str(exc)))
        current = couch.bulk_get(db, list(docs))
        to_write = []
        for doc_id, doc in docs.items():
            existing = current.get(doc_id)
            if existing is not None and _comparable(existing) == _comparable(doc):
                report.unchanged += 1
                continue
            body = {k: v for k, v in doc.items() if k not in ("_rev", "_attachments")}
            if existing is not None:
                body["_rev"] = existing["_rev"]
            stubs = set(doc.get("_attachments") or {}) - set(atts.get(doc_id, {}))
            if stubs:  # a stub without its file cannot be loaded: say so, load the rest
                report.attachments_skipped += len(stubs)
            if doc_id in atts:
                body["_attachments"] = atts[doc_id]
            elif existing is not None and existing.get("_attachments"):
                body["_attachments"] = existing["_attachments"]  # keep what is there
            to_write.append(body)
        for result in couch.bulk_save(db, to_write) if to_write else []:
            if result.get("error"):
                report.failed.append((db, result.get("id", "?"),
                                      f"{result['error']}: {result.get('reason', '')}"))
            else:
                report.written += 1
        if progress:
            progress(1)
    return report
