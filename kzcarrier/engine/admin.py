"""What operators ask of the engine: `kzcarrier status`, `request retry`, `request cancel`."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..amqp.outbox import Outbox
from ..couch.client import Couch
from ..couch.paging import iter_view
from ..errors import DocNotFound, KzError, NotFound, StorageError
from ..numbers import SERVICE_DB, NumberRules, number_db
from ..ops.services import Services
from . import protocol
from .feeds import CHECKPOINT
from .journal import blocks_cancel, open_intents, pending_copies

TERMINAL_COUNTS = ("failed", "completed", "dry_run")
NOT_COUNTS = ("oldest_pending_age_s", "stale_claims", "feed_lag")


def status(couch: Couch, heartbeat_interval: float = 5.0, threads: int = 8,
           ) -> dict[str, Any]:
    """Requests per number database, the journal, the workers. The databases are read
    `threads` at a time; `databases` shows those with requests or changes unread (at
    10,000 databases, not 10,000 rows of zeros), `databases_listed` counts them all."""
    now = protocol.now()
    out: dict[str, Any] = {"databases": {}, "workers": [], "totals": {}}
    dbs = couch.number_dbs()
    try:
        infos = couch.dbs_info(dbs)
    except StorageError:      # CouchDB before 2.2: each feed is read from its checkpoint
        infos = {}
    with ThreadPoolExecutor(max(1, min(threads, len(dbs)))) as pool:
        shown = pool.map(lambda db: _db_status(couch, db, infos.get(db), now), dbs)
        for db, row in zip(dbs, shown):
            if row is None:
                continue
            for key, value in row.items():
                if key not in NOT_COUNTS:
                    out["totals"][key] = out["totals"].get(key, 0) + value
            if any(value for key, value in row.items() if key != "oldest_pending_age_s"):
                out["databases"][db] = row
    out["databases_listed"] = len(dbs)
    if couch.db_exists(SERVICE_DB):
        try:
            intents = open_intents(couch, limit=10000)
        except DocNotFound:
            intents = []
        out["journal"] = {"open_intents": len(intents),
                          "by_status": {s: sum(1 for i in intents if i.get("status") == s)
                                        for s in sorted({i.get("status") for i in intents})},
                          "account_copies_pending": len(pending_copies(couch)),
                          "announcements_pending": Outbox(couch).count(),
                          "services_owed": len(Services(couch, NumberRules().classify).owed())}
        crawl = couch.get(SERVICE_DB, "crawler", missing_ok=True)   # toolkit/crawler.py
        if crawl is not None:
            out["crawler"] = {k: crawl.get(k) for k in ("finished", "databases", "aged",
                                                        "discovery_purged", "deleted_purged",
                                                        "skipped")}
        for row in couch.all_docs(SERVICE_DB, start_key="worker:", end_key="worker:\ufff0"):
            doc = row.get("doc") or {}
            age = now - float(doc.get("heartbeat", 0))
            out["workers"].append({"worker": doc.get("worker"), "host": doc.get("host"),
                                   "last_seen_s": round(age, 1),
                                   "alive": age < 3 * heartbeat_interval})
    return out


def _db_status(couch: Couch, db: str, info: dict[str, Any] | None, now: float,
               ) -> dict[str, Any] | None:
    """One database's counts, its oldest pending request, stale claims and feed lag;
    None if it is gone."""
    counts = {"pending": 0, "running": 0, "failed": 0, "completed": 0, "dry_run": 0}
    try:
        for row in couch.view(db, "kzcarrier", "request_status", group=True):
            counts[row["key"]] = row["value"]
        oldest = None
        stale = 0
        if any(n for key, n in counts.items() if key not in TERMINAL_COUNTS):
            for row in iter_view(couch, db, "kzcarrier", "requests"):
                doc = row.get("doc") or {}
                st = protocol.own_state(doc)
                if st is None:
                    since = doc.get("pvt_modified") or doc.get("pvt_created")
                    if isinstance(since, (int, float)):
                        oldest = since if oldest is None else min(oldest, since)
                elif st.get("status") == protocol.RUNNING and st.get("worker") and \
                        float(st.get("claim_expires") or 0) < now:
                    stale += 1
        seq = (couch.get_local(db, CHECKPOINT) or {}).get("seq", 0)
        if info is not None and str(info.get("update_seq")) == str(seq):
            lag = 0               # nothing written past the checkpoint: no feed to read
        else:
            lag = sum(1 for _ in couch.iter_changes(db, seq, include_docs=False))
    except DocNotFound:           # deleted since it was listed
        return None
    return {**counts, "oldest_pending_age_s": None if oldest is None else
            round(now - oldest, 1), "stale_claims": stale, "feed_lag": lag}


def _locate(couch: Couch, rules: NumberRules, number: str) -> tuple[str, str]:
    num = rules.parse(number)
    db = number_db(num)
    if couch.get(db, num, missing_ok=True) is None:
        raise NotFound(num)
    return db, num


def retry(couch: Couch, rules: NumberRules, number: str) -> dict[str, Any]:
    """Make a failed (or stuck) request pending again; the same id keeps the carrier calls
    idempotent."""
    db, num = _locate(couch, rules, number)

    def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
        if doc is None or protocol.request_of(doc) is None:
            raise KzError(f"{num} has no request")
        st = protocol.own_state(doc) or {}
        if st.get("status") in ("completed", "dry_run"):
            raise KzError(f"{num}: request {st.get('id')} already {st.get('status')}")
        if st.get("status") == protocol.RUNNING and st.get("worker") and \
                float(st.get("claim_expires") or 0) > protocol.now():
            raise KzError(f"{num}: request {st.get('id')} is running on {st.get('worker')}")
        keep = {k: st[k] for k in ("intent", "started") if k in st}
        doc["pvt_request_state"] = {"id": st.get("id"), "status": protocol.RUNNING,
                                    "attempts": 0, "worker": None, "claim_expires": 0,
                                    "retried_by_operator": True, **keep} if st else None
        if doc["pvt_request_state"] is None:
            doc.pop("pvt_request_state")
        return doc

    couch.update(db, num, change)
    return {"number": num, "status": "pending"}


def cancel(couch: Couch, rules: NumberRules, number: str) -> dict[str, Any]:
    """End a request that has not started (or whose worker died) as `failed`/cancelled."""
    db, num = _locate(couch, rules, number)

    def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
        if doc is None or not protocol.is_pending(doc):
            raise KzError(f"{num} has no pending request")
        st = protocol.own_state(doc) or {}
        if st.get("status") == protocol.RUNNING and st.get("worker") and \
                float(st.get("claim_expires") or 0) > protocol.now():
            raise KzError(f"{num}: request {st.get('id')} is running on {st.get('worker')}; "
                          "it cannot be cancelled mid-flight")
        rid = protocol.request_id(doc)
        why = blocks_cancel(couch, num, rid) if rid else None
        if st.get("intent") or why:
            action = why or (st.get("intent") or {}).get("action")
            raise KzError(f"{num}: request {st.get('id')} may have reached the carrier "
                          f"({action}); retry it instead")
        at = protocol.now()
        doc["pvt_request_state"] = protocol.terminal(
            {"id": protocol.request_id(doc),
             "operation": (protocol.request_of(doc) or {}).get("operation"),
             "attempts": st.get("attempts", 0)}, "failed", at,
            error={"code": 400, "error": "cancelled", "message": "cancelled by operator"})
        return doc

    couch.update(db, num, change)
    return {"number": num, "status": "failed", "error": "cancelled"}

