"""Conflicting revisions, merged. On a CouchDB cluster two writes at the same revision can
both be accepted (a 202 for the loser, which `Couch` never counts as a win), leaving
sibling revisions. Whoever finds them merges them, keeping every field of every sibling and
never a carrier outcome less: a sibling carrying its request's outcome is the base, else
the deepest revision (for the journal's intents, `journal.merge_intent`), and the others
fill in what it lacks. The journal keeps every
carrier outcome apart from the number, so a merged document never has to be the only
place one survives."""
from __future__ import annotations

from typing import Any

from . import protocol

REQUEST_RANK = {"running": 1, "failed": 2, "dry_run": 2, "completed": 3}


def fill(base: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    merged = dict(base)
    for other in others:
        for key, value in other.items():
            if key.startswith("_"):
                continue
            if key not in merged:
                merged[key] = value
            elif isinstance(value, dict) and isinstance(merged[key], dict):
                merged[key] = {**value, **merged[key]}
    return merged


def _generation(doc: dict[str, Any]) -> int:
    try:
        return int(str(doc.get("_rev", "0")).split("-", 1)[0])
    except ValueError:
        return 0


def merge_number(winner: dict[str, Any], losers: list[dict[str, Any]]) -> dict[str, Any]:
    docs = [winner] + losers

    def rank(doc: dict[str, Any]) -> tuple[int, int, int, int]:
        # an outcome first (a sibling that carries its request's terminal state is what the
        # engine wrote after acting: a sale is never merged away by a newer write that did
        # not know of it); then the deepest revision (a losing claim written at an older
        # revision must not bring back the state it was based on); then the request
        # furthest on
        st = protocol.own_state(doc) or {}
        rank = REQUEST_RANK.get(st.get("status"), 0)
        return (int(rank >= REQUEST_RANK["failed"]), _generation(doc), rank,
                int(doc is winner))

    base = max(docs, key=rank)
    merged = fill(base, [d for d in docs if d is not base])
    seen, history = set(), []
    for doc in docs:   # every transition any sibling recorded, once, in time order
        for entry in doc.get("pvt_transitions") or []:
            key = (entry.get("request_id"), entry.get("at"), entry.get("to"))
            if isinstance(entry, dict) and key not in seen:
                seen.add(key)
                history.append(entry)
    if history:
        merged["pvt_transitions"] = sorted(history, key=lambda e: e.get("at") or 0)[
            -protocol.TRANSITIONS_KEPT:]
    return merged
