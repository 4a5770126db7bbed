"""`kzcarrier sync replicate` / `sync status`: continuous replication between a KAZOO cluster
and kzcarrier's CouchDB, done by CouchDB's own replicator. kzcarrier only manages the
`_replicator` documents (on its own server): one per number database and one for
`system_config` (only the `number_manager*` documents, by selector), per direction. Running
it again adds documents for databases that appeared since; `--follow` keeps doing so.
"""
from __future__ import annotations

from typing import Any

from ..couch.client import Couch, redact
from ..errors import KzError
from . import SYSTEM_CONFIG

REPLICATOR = "_replicator"
PREFIX = "kzcarrier-"
CONFIG_SELECTOR = {"_id": {"$regex": "^number_manager"}}


def _slug(db: str) -> str:
    return db.replace("/", "_")


def wanted_docs(kazoo: Couch, ours: Couch, direction: str) -> list[dict[str, Any]]:
    dbs = sorted(set(kazoo.number_dbs()) | set(ours.number_dbs()))
    docs = []
    for db in dbs + [SYSTEM_CONFIG]:
        for way in (("pull", "push") if direction == "both" else (direction,)):
            src, dst = (kazoo, ours) if way == "pull" else (ours, kazoo)
            doc: dict[str, Any] = {"_id": f"{PREFIX}{way}-{_slug(db)}",
                                   "source": src.db_url(db), "target": dst.db_url(db),
                                   "continuous": True, "create_target": True,
                                   "kzcarrier": {"direction": way, "db": db}}
            if db == SYSTEM_CONFIG:
                doc["selector"] = CONFIG_SELECTOR
            docs.append(doc)
    return docs


def ensure(kazoo: Couch, ours: Couch, direction: str = "both") -> dict[str, list[str]]:
    """Create (or correct) the replication documents; returns created / unchanged ids."""
    if direction not in ("pull", "push", "both"):
        raise KzError(f"direction must be pull, push or both, not {direction!r}")
    if not ours.profile.replicator_db:
        raise KzError(f"{ours.profile.vendor} {ours.profile.version} cannot run these "
                      "replications: its _replicator does not replicate with a selector "
                      "(system_config) and reports no state; continuous replication needs "
                      "Apache CouchDB (use `kzcarrier sync pull` instead)")
    ours.ensure_db(REPLICATOR)
    out: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    for doc in wanted_docs(kazoo, ours, direction):
        current = ours.get(REPLICATOR, doc["_id"], missing_ok=True)
        if current is None:
            ours.put(REPLICATOR, doc)
            out["created"].append(doc["_id"])
            continue
        same = all(current.get(k) == v for k, v in doc.items())
        if same:
            out["unchanged"].append(doc["_id"])
            continue
        ours.put(REPLICATOR, {**doc, "_rev": current["_rev"]})
        out["updated"].append(doc["_id"])
    return out


def status(ours: Couch) -> list[dict[str, Any]]:
    """Each kzcarrier replication's state: `_scheduler/docs`, else the `_replication_state`
    fields of the documents (older CouchDB)."""
    if not ours.profile.replicator_db or not ours.db_exists(REPLICATOR):
        return []
    ours_docs = {r["id"]: r["doc"] for r in ours.all_docs(REPLICATOR, start_key=PREFIX,
                                                           end_key=PREFIX + "\ufff0")}
    scheduler: dict[str, dict[str, Any]] = {}
    try:
        result = ours.client.get_scheduler_docs().get_result()
        scheduler = {d["doc_id"]: d for d in result.get("docs", []) if d.get("doc_id")}
    except Exception:  # no scheduler API: fall back to the document fields
        scheduler = {}
    out = []
    for doc_id, doc in sorted(ours_docs.items()):
        sched = scheduler.get(doc_id, {})
        out.append({"id": doc_id, "direction": (doc.get("kzcarrier") or {}).get("direction"),
                    "db": (doc.get("kzcarrier") or {}).get("db"),
                    "source": redact(str(doc.get("source"))),
                    "target": redact(str(doc.get("target"))),
                    "state": sched.get("state") or doc.get("_replication_state") or "unknown",
                    "error_count": sched.get("error_count", 0),
                    "info": sched.get("info") or doc.get("_replication_state_reason")})
    return out

