"""The intent journal: one document per carrier action of a request, in the `kzcarrier`
database, written before the carrier is called and kept after.

Why not in the number document: a client re-submitting the same request, or KAZOO saving
the number, rewrites the number document without kzcarrier's fields. What decides whether a
carrier may be called, and what the carrier answered, must survive that. So the journal is
what every path consults first: a new attempt, a retry by the operator, the give-up after
the last attempt, the recovery after a crash.

An intent (`_id` `intent:<number>:<request id>`) moves through

    claimed -> calling -> called -> applied          (the carrier did it; the outcome written)
                      \\-> clear                      (certainly nothing done: call again)
                      \\-> unknown                    (maybe done: ask the carrier first)

and is held by one worker at a time under a **lease**: a random token the holder renews
every third of the TTL. Another worker takes a lease over only after it has seen the *same*
token for a whole TTL on its own monotonic clock, so clock skew between hosts cannot hand
a live lease over, and a slow carrier call or a wait for a concurrency slot keeps it. The
holder **fences** right before the carrier call: it writes `calling` at the revision it
holds; a worker that lost its lease loses that write and does not call. Every write here
is at a read `_rev`, and a write is won only as `Couch.put` decides it (a 202 from a
cluster is confirmed, never assumed: design_docs/engine.md).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from .. import carriers
from ..carriers import CarrierContext
from ..carriers.selection import system_carriers
from ..couch.client import Couch
from ..errors import DocConflict, KzError, StorageError
from ..model.config import NUMBER_MANAGER, Config
from ..numbers import SERVICE_DB
from .conflicts import fill
from .protocol import RetryPolicy

log = logging.getLogger("kzcarrier.journal")

CLAIMED, CALLING, CALLED, CLEAR, UNKNOWN, APPLIED = (
    "claimed", "calling", "called", "clear", "unknown", "applied")
# what a takeover makes of the previous holder's status
AFTER_TAKEOVER = {CLAIMED: CLEAR, CALLING: UNKNOWN}


def intent_id(number: str, request_id: str) -> str:
    return f"intent:{number}:{request_id}"


class Busy(Exception):
    """Another worker holds the request's lease and has been seen renewing it."""


class LeaseLost(DocConflict):
    """This worker's lease was taken over: it must not call the carrier nor write."""

    def __init__(self, what: str):
        super().__init__(f"{what}: the lease was taken over", 409)


class LeaseClock:
    """Whether another holder's lease has expired, judged only by how long this worker has
    seen the same token (its own monotonic clock): wall clocks are never compared."""

    def __init__(self, mono: Callable[[], float] = time.monotonic):
        self.mono = mono
        self._seen: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def expired(self, doc_id: str, token: str | None, ttl: float) -> bool:
        now = self.mono()
        with self._lock:
            seen = self._seen.get(doc_id)
            if seen is None or seen[0] != token:
                self._seen[doc_id] = (token or "", now)
                if len(self._seen) > 100_000:   # bounded: forget the oldest observations
                    for key in sorted(self._seen, key=lambda k: self._seen[k][1])[:50_000]:
                        self._seen.pop(key, None)
                return False
            return now - seen[1] >= ttl

    def forget(self, doc_id: str) -> None:
        with self._lock:
            self._seen.pop(doc_id, None)


class Lease:
    """This worker's hold on one intent. Writes go through `_write`, serialised with the
    renewals, each at the revision last written."""

    def __init__(self, couch: Couch, doc: dict[str, Any], worker: str, ttl: float,
                 prior: str | None):
        self.couch = couch
        self.doc = doc
        self.worker = worker
        self.ttl = ttl
        self.prior = prior            # the status found before this worker took the lease
        self.lost = threading.Event()
        self._lock = threading.Lock()

    @property
    def status(self) -> str:
        return self.doc["status"]

    @property
    def result(self) -> dict[str, Any]:
        return dict(self.doc.get("result") or {})

    def _write(self, what: str, **fields: Any) -> None:
        with self._lock:
            if self.lost.is_set():
                raise LeaseLost(what)
            wanted = {**self.doc, **fields, "updated": time.time()}
            try:
                wanted["_rev"] = self.couch.put(SERVICE_DB, wanted)
            except DocConflict as exc:
                self.lost.set()
                raise LeaseLost(what) from exc
            self.doc = wanted

    def renew(self) -> None:
        self._write("renew", lease=uuid.uuid4().hex)

    def fence(self) -> None:
        """Right before the carrier call: `calling`, at the revision this worker holds."""
        self._write("fence", status=CALLING, lease=uuid.uuid4().hex)

    def called(self, result: dict[str, Any]) -> None:
        """The carrier did it. A result is never dropped: even a lost lease records it."""
        try:
            self._write("record", status=CALLED, result=result)
        except LeaseLost:
            _force(self.couch, self.doc["_id"], status=CALLED, result=result)

    def settle(self, status: str, error: dict[str, Any] | None = None) -> None:
        """Give the lease back with what is known: `clear`, `unknown`, `called` or
        `applied`. A carrier outcome (called, applied) is recorded even over a lease lost
        meanwhile; anything less is the new holder's to decide."""
        try:
            self._write("settle", status=status, holder=None, lease=None, error=error)
        except LeaseLost:
            if status in (CALLED, APPLIED):
                _force(self.couch, self.doc["_id"], status=status, holder=None, lease=None,
                       error=error)

    @contextmanager
    def kept(self) -> Iterator["Lease"]:
        """Renew every third of the TTL until the block ends (a crash ends it too)."""
        stop = threading.Event()

        def keep() -> None:
            while not stop.wait(self.ttl / 3):
                try:
                    self.renew()
                except LeaseLost:
                    log.warning("lease on %s taken over", self.doc["_id"])
                    return
                except StorageError as exc:   # CouchDB away: keep trying until the TTL
                    log.warning("lease renewal of %s: %s", self.doc["_id"], exc)

        thread = threading.Thread(target=keep, daemon=True, name="kzc-lease")
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()


RANK = {CLAIMED: 0, CLEAR: 1, CALLING: 2, UNKNOWN: 3, CALLED: 4, APPLIED: 5}


def merge_intent(winner: dict[str, Any], losers: list[dict[str, Any]]) -> dict[str, Any]:
    """Sibling revisions of an intent: the one furthest on is kept (a carrier's answer is
    never lost), every result merged in."""
    docs = [winner] + losers
    base = max(docs, key=lambda d: (RANK.get(d.get("status"), 0), int(d is winner)))
    merged = fill(base, [d for d in docs if d is not base])
    results = [d.get("result") for d in docs if isinstance(d.get("result"), dict)]
    if results:
        merged["result"] = {k: v for r in results for k, v in r.items()}
    return merged


def _force(couch: Couch, doc_id: str, **fields: Any) -> None:
    def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
        return {**(doc or {"_id": doc_id, "type": "intent"}), **fields,
                "updated": time.time()}
    couch.update(SERVICE_DB, doc_id, change, merge=merge_intent)


class Journal:
    def __init__(self, couch: Couch, worker: str, clock: LeaseClock | None = None):
        self.couch = couch
        self.worker = worker
        self.clock = clock or LeaseClock()

    def read(self, number: str, request_id: str) -> dict[str, Any] | None:
        return self.couch.get(SERVICE_DB, intent_id(number, request_id), missing_ok=True)

    def acquire(self, db: str, number: str, request_id: str, action: str, carrier: str,
                ttl: float, request: dict[str, Any] | None = None,
                first: bool = False) -> Lease:
        """The lease on the request's intent, creating it; Busy while another worker is
        seen holding it. `Lease.prior` says what was known before: None (new), `clear`,
        `unknown` (ask the carrier first), `called` or `applied` (apply `Lease.result`).
        `first`: the request's first attempt (no intent expected: not read first)."""
        doc_id = intent_id(number, request_id)
        self.couch.ensure_db(SERVICE_DB)
        current: dict[str, Any] | None = None
        for attempt in range(10):
            # a first attempt writes its intent without reading first: none exists unless
            # another attempt made it, and then the write is refused and the intent read
            # (on a cluster, a create beside an intent that reached the carrier loses: that
            # one has the longer revision history, `calling` written after `claimed`)
            if attempt or not first:
                current = self.couch.resolve(SERVICE_DB, doc_id, merge_intent)
            token = uuid.uuid4().hex
            if current is None:
                doc = {"_id": doc_id, "type": "intent", "db": db, "number": number,
                       "request_id": request_id, "action": action, "carrier": carrier,
                       "status": CLAIMED, "holder": self.worker, "lease": token,
                       "created": time.time(), "request": request}
                prior = None
            else:
                holder = current.get("holder")
                if holder and holder != self.worker and not self.clock.expired(
                        doc_id, current.get("lease"), ttl):
                    raise Busy(doc_id)
                prior = current.get("status")
                if holder and holder != self.worker:
                    log.warning("taking over %s from %s (status %s)", doc_id, holder, prior)
                prior = AFTER_TAKEOVER.get(prior, prior) if holder else prior
                if holder == self.worker and prior == CALLING:
                    prior = UNKNOWN   # our own earlier attempt died mid-call
                doc = {**current, "holder": self.worker, "lease": token,
                       "status": prior if prior in (CALLED, APPLIED, UNKNOWN) else CLAIMED,
                       "action": action, "carrier": carrier}
            try:
                doc["_rev"] = self.couch.put(SERVICE_DB, doc)
            except DocConflict:
                continue
            self.clock.forget(doc_id)
            return Lease(self.couch, doc, self.worker, ttl, prior)
        raise Busy(doc_id)



def close(couch: Couch, doc_id: str) -> None:
    """An intent whose outcome is in its number document (applied on another path)."""
    _force(couch, doc_id, status=APPLIED, holder=None, lease=None)


def open_intents(couch: Couch, limit: int = 500) -> list[dict[str, Any]]:
    """Intents whose carrier action may have happened and is not applied yet."""
    rows = couch.view(SERVICE_DB, "kzcarrier_journal", "open", include_docs=True,
                      limit=limit)
    return [r["doc"] for r in rows if r.get("doc")]


def copies_pending(couch: Couch, number: str, error: KzError) -> None:
    """A number written whose account copies are not in step: `copies:<number>`, for the
    sweep to bring them in step (the request itself is done; its outcome is written)."""
    couch.ensure_db(SERVICE_DB)
    _force(couch, f"copies:{number}", type="copies", number=number, error=str(error))


def pending_copies(couch: Couch) -> list[dict[str, Any]]:
    """Numbers whose account copies wait to be brought in step."""
    rows = couch.all_docs(SERVICE_DB, start_key="copies:", end_key="copies:\ufff0")
    return [r["doc"] for r in rows if r.get("doc")]


def blocks_cancel(couch: Couch, number: str, request_id: str) -> str | None:
    """Why a request may not be cancelled: its carrier action may have happened."""
    if not couch.db_exists(SERVICE_DB, cached=True):
        return None
    doc = couch.get(SERVICE_DB, intent_id(number, request_id), missing_ok=True)
    if doc and doc.get("status") in (CALLING, CALLED, UNKNOWN):
        return f"{doc.get('action')} at {doc.get('carrier')} is {doc['status']}"
    return None


def error_of(exc: KzError) -> dict[str, Any]:
    return {"error": exc.error, "message": str(exc)}


def lease_warnings(config: Config, ctx: CarrierContext) -> list[str]:
    """Carriers whose longest call outlasts the claim's lease: a holder cut off from
    CouchDB mid-call could not renew, and its lease would expire before the call ends."""
    ttl = RetryPolicy.from_config(config.section(NUMBER_MANAGER)).claim_ttl_s
    out = []
    for name in system_carriers(config):
        try:
            longest = carriers.load(name, ctx).longest_call_s()
        except KzError:
            continue             # not installed: its requests fail on their own
        if longest >= ttl:
            out.append(f"{name}: one call may take {longest:.0f} s, the claim lease is "
                       f"{ttl:.0f} s; raise number_manager.request_claim_ttl_s above it")
    return out
