"""Group commit: concurrent writers to one database share one `_bulk_docs`.

The engine's pool writes one number document per request (a claim, an outcome). Sent one
by one, the server answers them one by one; here a writer that finds no write in flight to
its database sends at once (no added latency when idle), and writers that arrive while one
is in flight queue up and go together in the next `_bulk_docs`, each getting back its own
per-document results. Nothing changes for the caller: every document is still written at
the `_rev` it carries, a conflict is still that document's conflict, and a failure of the
request reaches every writer whose documents were in it. One request never carries the
same `_id` twice, so each answer is matched to its writer by `_id`.

Leadership passes from writer to writer: whoever sends also returns, so no thread works
for others forever and none is needed in the background.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

Send = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


@dataclass
class _Entry:
    docs: list[dict[str, Any]]
    ready: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    results: list[dict[str, Any]] | None = None
    error: BaseException | None = None


@dataclass
class _Queue:
    waiting: list[_Entry] = field(default_factory=list)
    sending: bool = False


class GroupCommit:
    def __init__(self, max_docs: int = 500):
        self.max_docs = max_docs
        self._lock = threading.Lock()
        self._queues: dict[str, _Queue] = {}

    def save(self, key: str, docs: list[dict[str, Any]], send: Send) -> list[dict[str, Any]]:
        """Write `docs` with `send` (one `_bulk_docs` of any documents for `key`), sharing
        the request with concurrent callers for the same `key`. Returns `docs`' results."""
        entry = _Entry(docs)
        with self._lock:
            queue = self._queues.setdefault(key, _Queue())
            queue.waiting.append(entry)
            entry.lead = not queue.sending
            queue.sending = True
        while True:
            if entry.lead:
                self._send(queue, send)
            entry.ready.wait()
            if entry.results is not None or entry.error is not None:
                break
            entry.ready.clear()  # woken to lead the next request
        if entry.error is not None:
            raise entry.error
        return entry.results  # type: ignore[return-value]

    def _send(self, queue: _Queue, send: Send) -> None:
        with self._lock:
            batch, size, ids = [], 0, set()
            while queue.waiting:
                nxt = queue.waiting[0]
                nxt_ids = {d.get("_id") for d in nxt.docs} - {None}
                if batch and (size + len(nxt.docs) > self.max_docs or ids & nxt_ids):
                    break  # full, or the same document twice: the next request takes it
                batch.append(queue.waiting.pop(0))
                size += len(nxt.docs)
                ids |= nxt_ids
        try:
            results = send([doc for e in batch for doc in e.docs])
        except BaseException as exc:  # every writer in the request learns of it
            for e in batch:
                e.error = exc
        else:
            at = 0
            for e in batch:
                e.results = results[at:at + len(e.docs)]
                at += len(e.docs)
        with self._lock:
            if queue.waiting:
                heir = queue.waiting[0]
                heir.lead = True
                heir.ready.set()
            else:
                queue.sending = False
        for e in batch:
            e.lead = False
            e.ready.set()
