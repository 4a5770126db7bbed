"""The only module that talks to CouchDB (through ibmcloudant).

Every method takes KAZOO's raw database names (`numbers/+1415`,
`account/ac/co/unt...`, `system_config`); the server profile (`couch_compat`) maps them to
what the server stores. Writes always carry the `_rev` that was read; a conflict is never
resolved by overwriting: `update()` re-reads and re-applies the caller's change.
ApiException and connection failures become kzcarrier's StorageError family here.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from ibm_cloud_sdk_core import ApiException
from ibmcloudant.cloudant_v1 import CloudantV1

from ..errors import CouchUnavailable, DocConflict, DocNotFound, StorageError
from ..json_copy import copy_json
from ..logs import Scrubber
from ..numbers import NUMBERS_PREFIX
from . import compat as couch_compat
from . import sdk, siblings
from .group_commit import GroupCommit
from .urls import redact, split_credentials

DEFAULT_TIMEOUT = 30.0
DESIGN = "_design/"
JSON = {"Content-Type": "application/json"}  # pouch stores an empty doc without it
BULK_CHUNK = 500


@dataclass
class Changes:
    """One read of a `_changes` feed: rows and the seq to resume from (opaque)."""

    results: list[dict[str, Any]]
    last_seq: Any
    pending: int | None = None


@dataclass
class DesignDoc:
    """A design document file from design_docs/, with where KAZOO installs it."""

    doc: dict[str, Any]
    classifications: set[str] = field(default_factory=set)
    databases: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path) -> "DesignDoc":
        raw = json.loads(path.read_text())
        classes, dbs = set(), set()
        for entry in raw.get("kazoo", {}).get("view_map", []):
            if "classification" in entry:
                classes.add(entry["classification"])
            if "database" in entry:
                dbs.add(entry["database"])
        return cls(_join_functions(raw), classes, dbs)

    def applies_to(self, db: str) -> bool:
        return db in self.databases or classify_db(db) in self.classifications


def _join_functions(value: Any) -> Any:
    """KAZOO stores view functions as lists of lines; CouchDB wants strings."""
    if isinstance(value, dict):
        return {k: ("\n".join(v) if k in ("map", "reduce", "validate_doc_update")
                    and isinstance(v, list) else _join_functions(v)) for k, v in value.items()}
    return value


def classify_db(db: str) -> str:
    """KAZOO's database classification, as far as the number manager cares."""
    if db.startswith(NUMBERS_PREFIX):
        return "numbers"
    if db.startswith("account/") and db.count("/") == 3:
        return "account"
    return db


class Couch:
    """A connection to one CouchDB-compatible server."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT,
                 design_docs: Iterable[DesignDoc] = ()):
        self._base, self._user, self._password = split_credentials(url)
        Scrubber.add(self._password)
        self.url = redact(url)
        self.timeout = timeout
        self.design_docs = list(design_docs)
        self._profile: couch_compat.ServerProfile | None = None
        self._local = threading.local()
        self._template_lock = threading.Lock()
        self._configured: CloudantV1 | None = None
        self._known: set[str] = set()
        self._ddocs_checked: set[str] = set()   # see install_design_docs(once=True)
        self._missing: dict[str, float] = {}  # db -> when it was last seen missing
        self._local_revs: dict[tuple[str, str], str | None] = {}   # see put_local
        self._group = GroupCommit(BULK_CHUNK)
        # told about every document write that CouchDB answered: (db, docs, results)
        self.observers: list[Callable[[str, list[dict[str, Any]], list[dict[str, Any]]],
                                      None]] = []

    @property
    def client(self) -> CloudantV1:
        """One SDK client (and HTTP connection pool) per thread: the engine's pool shares a
        Couch, and requests sessions are not meant to be shared across threads (sdk.py)."""
        client = getattr(self._local, "client", None)
        if client is None:
            with self._template_lock:
                if self._configured is None:
                    self._configured = sdk.configured(self._base, self._user,
                                                      self._password, self.timeout)
            client = self._local.client = sdk.for_this_thread(self._configured, self._base)
        return client

    # --- plumbing ------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._call_raw(what, fn, *args, **kwargs).get_result()

    def _call_raw(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """The SDK's DetailedResponse (status code and result), errors converted."""
        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            status = exc.status_code or 0
            reason = exc.message or (exc.http_response.text if exc.http_response is not None
                                     else "")
            if status == 404:
                raise DocNotFound(f"{what}: not found", status, reason) from exc
            if status == 409:
                raise DocConflict(f"{what}: conflict", status, reason) from exc
            if status == 0 or status >= 500 or status == 429:
                raise CouchUnavailable(f"{what}: CouchDB unavailable at {self.url}", status,
                                       reason) from exc
            if status in (401, 403):
                raise StorageError(f"{what}: access denied by CouchDB at {self.url}", status,
                                   reason) from exc
            raise StorageError(f"{what}: CouchDB answered {status}", status, reason) from exc
        except requests.exceptions.RequestException as exc:
            raise CouchUnavailable(f"{what}: cannot reach CouchDB at {self.url}", 0,
                                   type(exc).__name__) from exc

    @property
    def profile(self) -> couch_compat.ServerProfile:
        if self._profile is None:
            self._profile = couch_compat.detect(self.server_info())
        return self._profile

    def _db(self, db: str) -> str:
        return self.profile.physical(db)

    def db_url(self, db: str) -> str:
        """The database's full URL, credentials included (for replication documents)."""
        parts = urlsplit(self._base)
        netloc = parts.netloc
        if self._user:
            cred = quote(self._user, safe="")
            if self._password:
                cred += ":" + quote(self._password, safe="")
            netloc = f"{cred}@{netloc}"
        return urlunsplit(parts._replace(netloc=netloc)) + "/" + quote(self._db(db), safe="")

    def server_info(self) -> dict[str, Any]:
        return self._call("server information", self.client.get_server_information)

    # --- databases -----------------------------------------------------------------------

    def all_dbs(self, prefix: str | None = None) -> list[str]:
        """Every database (KAZOO names), or those starting with `prefix`: listed by key range
        (CouchDB wants the keys JSON-quoted, and the SDK sends them as given), and filtered
        again on the client, since pouch ignores the range."""
        keys: dict[str, str] = {}
        if prefix is not None:
            start = self.profile.physical(prefix)
            keys = {"start_key": json.dumps(start), "end_key": json.dumps(start + "\ufff0")}
        names = [self.profile.logical(n) for n in self._call("list databases",
                                                             self.client.get_all_dbs, **keys)]
        return sorted(n for n in names if prefix is None or n.startswith(prefix))

    def number_dbs(self) -> list[str]:
        return self.all_dbs(NUMBERS_PREFIX)

    def db_exists(self, db: str, cached: bool = False) -> bool:
        """Whether `db` exists; `cached` trusts an earlier "yes" (hot paths)."""
        if cached and db in self._known:
            return True
        if cached and time.monotonic() - self._missing.get(db, -60.0) < 2.0:
            return False
        try:
            self._call(f"database {db}", self.client.get_database_information, self._db(db))
        except DocNotFound:
            self._known.discard(db)
            self._missing[db] = time.monotonic()
            return False
        self._missing.pop(db, None)
        self._known.add(db)
        return True

    def db_info(self, db: str) -> dict[str, Any]:
        return self._call(f"database {db}", self.client.get_database_information, self._db(db))

    def dbs_info(self, dbs: list[str]) -> dict[str, dict[str, Any] | None]:
        """Each database's information (`POST /_dbs_info`, CouchDB 2.2+ and the embedded
        server; 100 a request, CouchDB's default `max_db_number_for_dbs_info_req`); None
        for one that does not exist."""
        out: dict[str, dict[str, Any] | None] = {}
        for start in range(0, len(dbs), 100):
            chunk = dbs[start:start + 100]
            rows = self._call("read _dbs_info", self.client.post_dbs_info,
                              keys=[self._db(db) for db in chunk])
            found = {row.get("key"): row.get("info") for row in rows}
            out.update((db, found.get(self._db(db))) for db in chunk)
        return out

    def create_db(self, db: str) -> bool:
        """Create `db` with its design documents; False if it already existed."""
        created = True
        self._missing.pop(db, None)
        try:
            self._call(f"create database {db}", self.client.put_database, self._db(db))
        except StorageError as exc:
            if exc.status != 412:
                raise
            created = False
        self.install_design_docs(db)
        return created

    def ensure_db(self, db: str) -> None:
        """Create `db` if missing. Databases seen to exist are remembered (a deleted one is
        noticed on the next write that fails with 404)."""
        if db in self._known:
            return
        if not self.db_exists(db):
            self.create_db(db)
        self._known.add(db)

    def forget_db(self, db: str) -> None:
        self._known.discard(db)

    def delete_db(self, db: str) -> None:
        self._known.discard(db)
        self._ddocs_checked.discard(db)
        try:
            self._call(f"delete database {db}", self.client.delete_database, self._db(db))
        except DocNotFound:
            pass

    def install_design_docs(self, db: str, once: bool = False) -> list[str]:
        """Put every design document meant for `db`; only changed ones are written, and views
        of the same design document that kzcarrier does not define are kept. `once`: not
        again in this process once checked (a hot path: each check is a read)."""
        if once and db in self._ddocs_checked:
            return []
        written = []
        mine = [ddoc for ddoc in self.design_docs if ddoc.applies_to(db)]
        have = self.bulk_get(db, [d.doc["_id"] for d in mine]) if mine else {}  # one read
        for ddoc in mine:
            current = have.get(ddoc.doc["_id"])
            wanted = dict(ddoc.doc)
            if current is not None:
                # Views someone else (KAZOO) keeps in the same design document stay.
                wanted["views"] = {**(current.get("views") or {}), **wanted.get("views", {})}
                if all(current.get(k) == v for k, v in wanted.items()):
                    continue
            body = dict(wanted)
            if current is not None:
                body["_rev"] = current["_rev"]
            try:
                self.put(db, body)
            except DocConflict:
                continue   # another worker installed it at the same moment
            written.append(wanted["_id"])
        self._ddocs_checked.add(db)
        return written

    # --- documents -----------------------------------------------------------------------

    def get(self, db: str, doc_id: str, rev: str | None = None, missing_ok: bool = False,
            attachments: bool = False, conflicts: bool = False) -> dict[str, Any] | None:
        """A document (None if missing and `missing_ok`); `attachments` inlines them;
        `conflicts` lists its conflicting revisions in `_conflicts`."""
        try:
            if doc_id.startswith(DESIGN):
                return self._call(f"get {doc_id} from {db}", self.client.get_design_document,
                                  self._db(db), doc_id[len(DESIGN):], rev=rev)
            return self._call(f"get {doc_id} from {db}", self.client.get_document,
                              self._db(db), doc_id, rev=rev, attachments=attachments or None,
                              conflicts=conflicts or None)
        except DocNotFound:
            if missing_ok:
                return None
            raise

    def put(self, db: str, doc: dict[str, Any]) -> str:
        """Write `doc` at its `_rev` (none: create). Returns the new rev; 409 -> DocConflict.
        Documents go through the group commit (one `_bulk_docs` with concurrent writers)."""
        what = f"put {doc['_id']} into {db}"
        if doc["_id"].startswith(DESIGN):
            result = self._call(what, self.client.put_design_document, self._db(db),
                                doc["_id"][len(DESIGN):], doc, headers=JSON)
            return result["rev"]
        result = self.bulk_save(db, [doc])[0]
        if result.get("error") == "conflict":
            raise DocConflict(f"{what}: conflict", 409, result.get("reason", ""))
        if result.get("error"):
            status = 403 if result["error"] in ("forbidden", "unauthorized") else 400
            raise StorageError(f"{what}: {result['error']}", status, result.get("reason", ""))
        return result["rev"]

    def delete(self, db: str, doc_id: str, rev: str) -> str:
        result = self._call(f"delete {doc_id} from {db}", self.client.delete_document,
                            self._db(db), doc_id, rev=rev)
        self._written(db, [{"_id": doc_id, "_rev": rev, "_deleted": True}],
                      [{"id": doc_id, "rev": result["rev"]}])
        return result["rev"]

    def bulk_get(self, db: str, ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Current documents by id (None: missing or deleted). `_all_docs` + keys, which both
        servers answer alike (pouch's `_bulk_get` does not)."""
        out: dict[str, dict[str, Any] | None] = {i: None for i in ids}
        for start in range(0, len(ids), BULK_CHUNK):
            chunk = ids[start:start + BULK_CHUNK]
            result = self._call(f"read {len(chunk)} documents from {db}",
                                self.client.post_all_docs, self._db(db), keys=chunk,
                                include_docs=True)
            for row in result.get("rows", []):
                if row.get("doc") and not row.get("value", {}).get("deleted"):
                    out[row["key"]] = row["doc"]
        return out

    def bulk_save(self, db: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`_bulk_docs`; one result per document: `{id, rev}` or `{id, error, reason}`.
        Concurrent callers writing to the same database share requests (`couch_batch`)."""
        def send(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
            resp = self._call_raw(f"save {len(batch)} documents into {db}",
                                  self.client.post_bulk_docs, self._db(db), {"docs": batch})
            results = self.profile.bulk_results(batch, resp.get_result())
            if resp.get_status_code() == 202:
                results = siblings.confirm(self, db, results)
            return results

        results: list[dict[str, Any]] = []
        for start in range(0, len(docs), BULK_CHUNK):
            results.extend(self._group.save(db, docs[start:start + BULK_CHUNK], send))
        self._written(db, docs, results)
        return results

    def _written(self, db: str, docs: list[dict[str, Any]],
                 results: list[dict[str, Any]]) -> None:
        for observer in self.observers:
            observer(db, docs, results)

    def resolve(self, db: str, doc_id: str, merge: siblings.Merge) -> dict[str, Any] | None:
        """The document with its sibling revisions (if any) merged by `merge` (siblings.py)."""
        return siblings.resolve(self, db, doc_id, merge)

    def update(self, db: str, doc_id: str,
               change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
               attempts: int = 10,
               merge: siblings.Merge | None = None) -> dict[str, Any] | None:
        """Read, apply `change`, write at the read `_rev`; on conflict re-read and re-apply.

        `change` gets the current document (None if missing) and returns the document to
        write, or None to write nothing. Returns what was written (with its new `_rev`).
        With `merge`, sibling revisions found on reading are merged first (`resolve`)."""
        for attempt in range(attempts):
            current = self.resolve(db, doc_id, merge) if merge else \
                self.get(db, doc_id, missing_ok=True)
            wanted = change(copy_json(current) if current else None)
            if wanted is None:
                return None
            wanted["_id"] = doc_id
            if current is not None:
                wanted["_rev"] = current["_rev"]
            else:
                wanted.pop("_rev", None)
            try:
                wanted["_rev"] = self.put(db, wanted)
                return wanted
            except DocConflict:
                time.sleep(min(0.5, 0.01 * 2 ** attempt))
        raise DocConflict(f"update {doc_id} in {db}: still conflicting after {attempts} tries",
                          409)

    def all_docs(self, db: str, include_docs: bool = True, start_key: str | None = None,
                 end_key: str | None = None, **params: Any) -> list[dict[str, Any]]:
        result = self._call(f"list documents of {db}", self.client.post_all_docs,
                            self._db(db), include_docs=include_docs, start_key=start_key,
                            end_key=end_key, **params)
        return result.get("rows", [])

    def view(self, db: str, ddoc: str, view: str, **params: Any) -> list[dict[str, Any]]:
        result = self._call(f"view {ddoc}/{view} of {db}", self.client.post_view,
                            self._db(db), ddoc, view, **params)
        return result.get("rows", [])

    # --- _local documents (checkpoints) --------------------------------------------------

    def get_local(self, db: str, name: str) -> dict[str, Any] | None:
        try:
            doc = self._call(f"get _local/{name} from {db}", self.client.get_local_document,
                             self._db(db), name, accept="application/json")
        except DocNotFound:
            self._local_revs[(db, name)] = None   # the first write needs no read either
            return None
        self._local_revs[(db, name)] = doc.get("_rev")
        return doc

    def put_local(self, db: str, name: str, body: dict[str, Any]) -> None:
        """Write a `_local` document, carrying its `_rev` (pouch insists): the one last
        read or written here (a checkpoint costs one request), else read first."""
        rev, resent = self._local_revs.get((db, name), "?"), False
        for _ in range(5):
            if rev == "?":
                rev = (self.get_local(db, name) or {}).get("_rev")
            try:
                done = self._call(f"put _local/{name} into {db}",
                                  self.client.put_local_document, self._db(db), name,
                                  dict(body, **({"_rev": rev} if rev else {})))
                self._local_revs[(db, name)] = done.get("rev")
                return
            except DocConflict:
                rev = "?"
            except CouchUnavailable:
                # answer lost (an idle connection closed just then): once more, at the rev
                # read anew (written already? the same body again: `_local` keeps no history)
                if resent:
                    raise
                rev, resent = "?", True
        raise DocConflict(f"put _local/{name} into {db}: kept conflicting", 409)

    # --- changes -------------------------------------------------------------------------

    def db_updates(self, **params: Any) -> dict[str, Any]:
        """One read of `_db_updates` (the SDK's own call logs a deprecation warning each
        time: this one is the same request, quietly)."""
        def get() -> Any:
            return self.client.send(self.client.prepare_request(
                method="GET", url="/_db_updates", params=params,
                headers={"Accept": "application/json"}))
        return self._call("read _db_updates", get)

    def changes(self, db: str, since: Any = 0, limit: int | None = None,
                include_docs: bool = True, longpoll_ms: int = 0) -> Changes:
        """One read of `_changes` after `since`. With `longpoll_ms`, wait up to that long for
        the first change (on servers that ignore longpoll's timeout, by short polls)."""
        since = self.profile.since(since)
        if longpoll_ms and self.profile.longpoll_timeout:
            result = self._call(f"changes of {db}", self.client.post_changes, self._db(db),
                                feed="longpoll", since=since, limit=limit,
                                include_docs=include_docs, conflicts=self._feed_conflicts(include_docs),
                                timeout=longpoll_ms,
                                headers={"Accept-Encoding": "identity"})
            return Changes(result.get("results", []), result.get("last_seq", since),
                           result.get("pending"))
        deadline = time.monotonic() + longpoll_ms / 1000.0
        while True:
            result = self._call(f"changes of {db}", self.client.post_changes, self._db(db),
                                feed="normal", since=since, limit=limit,
                                include_docs=include_docs,
                                conflicts=self._feed_conflicts(include_docs))
            rows = result.get("results", [])
            if rows or time.monotonic() >= deadline:
                return Changes(rows, result.get("last_seq", since), result.get("pending"))
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def last_revision(self, db: str, doc_id: str) -> dict[str, Any] | None:
        """The document as last written, a deletion's tombstone included (whose body keeps
        what the deleting write put in it); None if it never existed."""
        result = self._call(f"last revision of {doc_id} in {db}", self.client.post_changes,
                            self._db(db), filter="_doc_ids", doc_ids=[doc_id],
                            include_docs=True)
        rows = [r for r in result.get("results", []) if r.get("id") == doc_id]
        return rows[-1].get("doc") if rows else None

    def _feed_conflicts(self, include_docs: bool) -> bool | None:
        """Ask feeds to name sibling revisions where the server can (see compat)."""
        return True if include_docs and self.profile.changes_conflicts else None

    def iter_changes(self, db: str, since: Any = 0, batch: int = 1000,
                     include_docs: bool = True) -> Iterator[tuple[dict[str, Any], Any]]:
        """Every change after `since` until caught up: (row, seq to checkpoint after it).
        Ends on an empty page, never on `pending` (the test server has none)."""
        while True:
            page = self.changes(db, since, limit=batch, include_docs=include_docs)
            for row in page.results:
                yield row, row.get("seq", page.last_seq)
            since = page.last_seq
            if len(page.results) < batch:
                return
