"""The document protocol (`pvt_request` in, `pvt_request_state` and `pvt_transitions` out),
as pure functions over documents: is a request pending, due, claimable; what the claim,
retry and terminal states look like; the retry policy. See
design_docs/protocol.md (the contract, for users) and design_docs/engine.md (decisions).
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from ..errors import KzError, SchemaError
from ..model.document import GREGORIAN_UNIX_OFFSET

TERMINAL = ("completed", "failed", "dry_run")
RUNNING = "running"
TRANSITIONS_KEPT = 50


def now() -> float:
    """Gregorian seconds, with milliseconds (claims and retries need sub-second times)."""
    return round(time.time() + GREGORIAN_UNIX_OFFSET, 3)


def request_of(doc: dict[str, Any]) -> dict[str, Any] | None:
    req = doc.get("pvt_request")
    return req if isinstance(req, dict) else None


def state_of(doc: dict[str, Any]) -> dict[str, Any]:
    st = doc.get("pvt_request_state")
    return st if isinstance(st, dict) else {}


def request_id(doc: dict[str, Any]) -> str | None:
    req = request_of(doc)
    rid = req.get("id") if req else None
    return rid if isinstance(rid, str) and rid else None


def own_state(doc: dict[str, Any]) -> dict[str, Any] | None:
    """`pvt_request_state` if it belongs to the current request, else None. A malformed
    request (no usable id) owns the state that reported it."""
    st = state_of(doc)
    if not st:
        return None
    rid = request_id(doc)
    if rid is None:
        req = request_of(doc)
        raw = req.get("id") if req else None
        return st if st.get("id") == raw or (st.get("id") is None and raw is None) else None
    return st if st.get("id") == rid else None


def is_pending(doc: dict[str, Any]) -> bool:
    """Not finished: a request with no terminal state of its own."""
    if doc.get("_deleted") or "pvt_request" not in doc:
        return False
    st = own_state(doc)
    return st is None or st.get("status") not in TERMINAL


def due_at(doc: dict[str, Any], worker: str | None = None) -> float:
    """When `worker` may act on it: now for a new request, or for a claim of its own that
    it is not working on (its write-back failed, e.g. CouchDB was down); else at claim
    expiry (a running claim, or the next attempt of a request waiting to retry)."""
    st = own_state(doc)
    if st is None or st.get("status") != RUNNING:
        return 0.0
    if worker is not None and st.get("worker") == worker:
        return 0.0
    return float(st.get("claim_expires") or 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 1.0
    cap_s: float = 60.0
    claim_ttl_s: float = 120.0

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> "RetryPolicy":
        return cls(max_attempts=int(section.get("request_max_attempts", 5)),
                   base_s=float(section.get("request_retry_base_ms", 1000)) / 1000.0,
                   cap_s=float(section.get("request_retry_cap_ms", 60000)) / 1000.0,
                   claim_ttl_s=float(section.get("request_claim_ttl_s", 120)))

    def delay(self, attempt: int, retry_after: float | None = None,
              rng: random.Random | None = None) -> float:
        """Capped exponential backoff with full jitter; never sooner than Retry-After."""
        ceiling = min(self.cap_s, self.base_s * (2 ** max(0, attempt - 1)))
        wait = (rng or random).uniform(0, ceiling)
        return max(wait, min(retry_after or 0.0, self.cap_s * 10))


def claim(doc: dict[str, Any], worker: str, policy: RetryPolicy, at: float,
          intent: dict[str, Any] | None) -> dict[str, Any]:
    """The state a worker writes (at the `_rev` it read) to take the request."""
    prev = own_state(doc) or {}
    req = request_of(doc) or {}
    state = {"id": request_id(doc), "status": RUNNING, "operation": req.get("operation"),
             "worker": worker, "claimed": at, "claim_expires": round(at + policy.claim_ttl_s, 3),
             "attempts": int(prev.get("attempts", 0)) + 1,
             "started": prev.get("started", int(at)), "finished": None, "error": None,
             "charges": None}
    for key in ("from_state", "carrier", "last_error", "intent"):
        if prev.get(key) is not None:
            state[key] = prev[key]
    if intent is not None:
        state["intent"] = intent
    return state


def retry_later(state: dict[str, Any], error: KzError, delay_s: float, at: float,
                ) -> dict[str, Any]:
    """Give the claim back until `at + delay_s`; any worker may then take it."""
    out = dict(state)
    out.update({"worker": None, "claim_expires": round(at + delay_s, 3),
                "next_attempt": round(at + delay_s, 3), "last_error": error_json(error)})
    return out


def terminal(state: dict[str, Any], status: str, at: float, **fields: Any) -> dict[str, Any]:
    out = {k: v for k, v in state.items()
           if k not in ("worker", "claimed", "claim_expires", "next_attempt")}
    out.update({"status": status, "finished": int(at)})
    out.setdefault("error", None)
    out.setdefault("charges", None)
    out.update(fields)
    return out


def transition_entry(state: dict[str, Any], to: str | None, by: str | None, at: float,
                     ) -> dict[str, Any]:
    return {"request_id": state.get("id"), "operation": state.get("operation"),
            "from": state.get("from_state"), "to": to, "at": int(at), "by": by,
            "carrier": state.get("carrier")}


def append_transition(history: Any, entry: dict[str, Any]) -> list[dict[str, Any]]:
    items = list(history) if isinstance(history, list) else []
    items.append(entry)
    return items[-TRANSITIONS_KEPT:]


def error_json(exc: BaseException) -> dict[str, Any]:
    """A KAZOO-shaped error object for anything that went wrong."""
    if isinstance(exc, KzError):
        out = exc.to_json()
        if isinstance(exc, SchemaError):
            out["cause"] = exc.cause
        return out
    return {"code": 500, "error": "internal_error", "message": "internal_error",
            "cause": f"{type(exc).__name__}: {exc}"}
