"""Where every feed stood, kept in the service database (design_docs/engine.md, "A
restart"). A watcher starting again resumes each database's feed from it without reading
that database's checkpoint or checking its design documents; where `_db_updates` answers,
it reads only the databases named since the snapshot's `_db_updates` position, and those
the snapshot names (not read, or read with requests unfinished, when it was written). Its
first sweep reads only the databases the snapshot lists with unfinished requests, and its
first full sweep only those changed since the fingerprints it keeps (engine/backstop.py).

The per-database `_local` checkpoints stay what they were; the snapshot is an index over
them that any worker writes (the last write wins: any worker's snapshot is a position from
which nothing is lost, since every worker follows every database and a finished request
is finished for all). `_local` documents: never replicated, no revision tree to conflict.
Written as a head (position, names) and chunks of positions, one per `DBS_PER_CHUNK`
databases up to `MAX_CHUNKS` (one write for a small server), a chunk only when its content
changed; a chunk newer or older than its head still loses nothing: a position is where a
feed's requests were all finished, and what was not finished is named. A chunk made for
another number of chunks than its head names is not used: its databases start from their
own checkpoints."""
from __future__ import annotations

import hashlib
import json
import logging
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..couch.client import Couch
from ..errors import StorageError
from ..numbers import SERVICE_DB

log = logging.getLogger("kzcarrier.watcher")

HEAD = "kzcarrier-feeds"
MAX_CHUNKS = 16
DBS_PER_CHUNK = 500
VERSION = 4


@dataclass
class Snapshot:
    seqs: dict[str, Any] = field(default_factory=dict)   # database -> where its feed resumes
    checked: set[str] = field(default_factory=set)       # design documents checked (these)
    named: set[str] = field(default_factory=set)         # to read at once after a restart
    db_updates: Any = None    # every database named by `_db_updates` before this is read,
    #                           or in `named` (None: without `_db_updates`, read them all)
    # databases with requests unfinished (a retry waiting, another worker's claim) that
    # their position may have passed: the first sweep reads these; the others' positions
    # passed only finished requests
    work: set[str] = field(default_factory=set)
    # the full sweep's jobs: database -> the fingerprints the job last read it at
    looked: dict[str, dict[str, Any]] = field(default_factory=dict)


def design_tag(couch: Couch) -> str:
    """Which design documents `checked` means: another kzcarrier version's are checked again."""
    docs = json.dumps([d.doc for d in couch.design_docs], sort_keys=True, default=str)
    return hashlib.sha1(docs.encode()).hexdigest()[:16]


def chunk_count(dbs: int) -> int:
    return max(1, min(MAX_CHUNKS, -(-dbs // DBS_PER_CHUNK)))


def chunk_of(db: str, count: int) -> int:
    return zlib.crc32(db.encode()) % count


def load(couch: Couch) -> Snapshot | None:
    """The last snapshot written; None where there is none (or it cannot be read: then
    every database is prepared from its own checkpoint, as on a first start)."""
    try:
        head = couch.get_local(SERVICE_DB, HEAD)
        if not head or head.get("version") != VERSION:
            return None
        count = head.get("chunks")
        if not isinstance(count, int) or not 1 <= count <= MAX_CHUNKS:
            return None
        with ThreadPoolExecutor(min(8, count)) as pool:
            chunks = list(pool.map(lambda k: couch.get_local(SERVICE_DB, f"{HEAD}-{k}"),
                                   range(count)))
    except StorageError as exc:
        log.warning("cannot read the feeds' snapshot: %s", exc)
        return None
    snap = Snapshot(named=set(head.get("named") or ()), db_updates=head.get("db_updates"),
                    work=set(head.get("work") or ()))
    same_ddocs = head.get("design") == design_tag(couch)
    for chunk in chunks:
        if (chunk or {}).get("of") != count:   # made for another partitioning, or missing
            continue
        for db, (seq, checked, looked) in ((chunk or {}).get("dbs") or {}).items():
            snap.seqs[db] = seq
            if checked and same_ddocs:
                snap.checked.add(db)
            for job, fps in (looked or {}).items():
                snap.looked.setdefault(job, {})[db] = fps
    return snap


class SnapshotWriter:
    """Writes snapshots, each chunk only when its content changed since it was last written."""

    def __init__(self, couch: Couch):
        self.couch = couch
        self.tag = design_tag(couch)
        self._written: dict[Any, Any] = {}    # chunk number: (count, its databases); HEAD: head

    def save(self, snap: Snapshot) -> bool:
        count = chunk_count(len(snap.seqs))
        chunks: dict[int, dict[str, Any]] = {k: {} for k in range(count)}
        for db, seq in snap.seqs.items():
            looked = {job: fps[db] for job, fps in snap.looked.items() if db in fps}
            chunks[chunk_of(db, count)][db] = [seq, db in snap.checked, looked]
        head = {"version": VERSION, "design": self.tag, "chunks": count,
                "named": sorted(snap.named), "db_updates": snap.db_updates,
                "work": sorted(snap.work)}
        changed = [k for k, dbs in chunks.items() if self._written.get(k) != (count, dbs)]

        def write(k: int) -> None:
            self.couch.put_local(SERVICE_DB, f"{HEAD}-{k}", {"of": count, "dbs": chunks[k]})
            self._written[k] = (count, chunks[k])

        try:
            with ThreadPoolExecutor(max(1, min(8, len(changed)))) as pool:
                list(pool.map(write, changed))    # the chunks, then the head naming them
            if changed or self._written.get(HEAD) != head:   # idle: nothing written
                self.couch.put_local(SERVICE_DB, HEAD, head)
                self._written[HEAD] = head
        except StorageError as exc:
            log.warning("cannot write the feeds' snapshot: %s", exc)
            return False
        return True
