"""Which databases the full sweep reads (design_docs/engine.md, "Full sweep"). It is the
backstop for what no feed of this worker showed, and with it the purge of expired
discovery documents; both read every database's index: at 10,000 databases, 10,000 reads
every ten minutes, idle or not. Now one `_dbs_info` request per 100 databases says which
changed since each job last read them (their information, remembered per job as a
fingerprint once read), and each job reads those alone. A database not read yet, one
the server gives no information for, and every database where `_dbs_info` does not
answer (CouchDB before 2.2, a bare pouchdb-server) is read, as before. The fingerprints
are kept in the feeds' snapshot (engine/snapshot.py): a restart's first full sweep reads
the databases changed since, not every one again.

A cluster answers a database's information from whichever copy of each shard answers
first, and its seqs name those copies: one database, unchanged, shows a fingerprint per
set of copies that answered (one per node asked, behind a load balancer). So each job
keeps the last `KEEP` fingerprints it read a database at, and reads it again only for one
it has not: once each set has answered, an unchanged database is not read. A fingerprint
never comes back once its database changed (each copy's seq only grows; a database created
again has new shards), so none kept hides a change."""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any

from ..couch.client import Couch
from ..errors import StorageError

log = logging.getLogger("kzcarrier.watcher")

SWEEP, PURGE = "sweep", "purge"
KEEP = 8      # fingerprints kept per database and job: the sets of copies seen answering


def fingerprint(info: dict[str, Any]) -> str:
    """What changes with any write to a database, or its deletion and creation (CouchDB's
    seqs name their shard files; the embedded server's `instance_start_time` names the
    database's instance, as its integer seqs restart). The same in every process."""
    what = [info.get(key) for key in ("update_seq", "purge_seq", "doc_count",
                                      "doc_del_count", "instance_start_time")]
    return hashlib.sha1(json.dumps(what, default=str).encode()).hexdigest()[:16]


class Backstop:
    def __init__(self, couch: Couch):
        self.couch = couch
        # job -> db -> the fingerprints it was read at, the last one last
        self._read: dict[str, dict[str, tuple[str, ...]]] = {SWEEP: {}, PURGE: {}}
        self._now: dict[str, str] = {}      # the fingerprints of this full sweep
        self._lock = threading.Lock()       # the sweep's thread writes, the snapshot reads

    def known(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Each job's fingerprints, for the snapshot."""
        with self._lock:
            return {job: dict(read) for job, read in self._read.items()}

    def resume(self, known: dict[str, dict[str, Any]]) -> None:
        """The fingerprints a snapshot kept (at start, before any full sweep): a list per
        database, or one alone (as a snapshot written before kept them)."""
        with self._lock:
            for job in self._read:
                self._read[job] = {
                    db: (fps,) if isinstance(fps, str) else tuple(fps)[-KEEP:]
                    for db, fps in known.get(job, {}).items()}

    def look(self, dbs: list[str]) -> None:
        """Take the fingerprints of `dbs` (the databases of this full sweep)."""
        try:
            infos = self.couch.dbs_info(dbs)
        except StorageError as exc:
            log.debug("_dbs_info: %s (the full sweep reads every database)", exc)
            self._now = {}
            return
        self._now = {db: fingerprint(info) for db, info in infos.items() if info}
        with self._lock:
            for job, read in self._read.items():     # a database gone is forgotten
                self._read[job] = {db: fp for db, fp in read.items() if db in self._now}

    def changed(self, job: str, dbs: list[str]) -> list[str]:
        """Of `dbs`, those `job` reads: changed since it last read them (or never read)."""
        read = self._read[job]
        return [db for db in dbs
                if db not in self._now or self._now[db] not in read.get(db, ())]

    def read(self, job: str, db: str) -> None:
        """`job` read `db` after its fingerprint was taken, and needs it again only once it
        changes (not called: read again next time)."""
        if db in self._now:
            with self._lock:
                kept = self._read[job].get(db, ())
                if self._now[db] not in kept:
                    self._read[job][db] = (*kept, self._now[db])[-KEEP:]
