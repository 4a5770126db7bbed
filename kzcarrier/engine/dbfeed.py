"""Where the watcher stands in one database's feed, and how long a request has waited."""
from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from . import protocol


@dataclass
class DbFeed:
    """Position in one database's feed, and the checkpoint that trails it."""

    read_seq: Any = None
    # (seq after the page, the page's futures, how many changes it held)
    batches: list[tuple[Any, list[Future[str]], int]] = field(default_factory=list)
    saved_seq: Any = None

    def lag(self) -> int:
        """Changes read whose requests are not finished yet: the checkpoint trails them."""
        return sum(n for _, _, n in self.batches)


def pending_since(doc: dict[str, Any]) -> float | None:
    """When a request began waiting, in Gregorian seconds: its first claim, else the
    document's last change (KAZOO's pvt_modified)."""
    started = (protocol.own_state(doc) or {}).get("started")
    since = started if started is not None else doc.get("pvt_modified") or doc.get("pvt_created")
    return float(since) if isinstance(since, (int, float)) else None
