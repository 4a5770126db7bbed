"""Which databases the full sweep reads (design_docs/engine.md, "Full sweep"). It is the
backstop for what no feed of this worker showed, and with it the purge of expired
discovery documents; both read every database's index: at 10,000 databases, 10,000 reads
every ten minutes, idle or not. Now one `_dbs_info` request per 100 databases says which
changed since each job last read them (their information, remembered per job as a
fingerprint once read), and each job reads those alone. A database not read yet, one
the server gives no information for, and every database where `_dbs_info` does not
answer (CouchDB before 2.2, a bare pouchdb-server) is read, as before."""
from __future__ import annotations

import logging
from typing import Any

from ..couch.client import Couch
from ..errors import StorageError

log = logging.getLogger("kzcarrier.watcher")

SWEEP, PURGE = "sweep", "purge"


def fingerprint(info: dict[str, Any]) -> int:
    """What changes with any write to a database, or its deletion and creation (CouchDB's
    seqs name their shard files; the embedded server's `instance_start_time` names the
    database's instance, as its integer seqs restart)."""
    return hash((str(info.get("update_seq")), str(info.get("purge_seq")),
                 info.get("doc_count"), info.get("doc_del_count"),
                 str(info.get("instance_start_time"))))


class Backstop:
    def __init__(self, couch: Couch):
        self.couch = couch
        self._read: dict[str, dict[str, int]] = {SWEEP: {}, PURGE: {}}  # job -> db -> fp
        self._now: dict[str, int] = {}      # the fingerprints of this full sweep

    def look(self, dbs: list[str]) -> None:
        """Take the fingerprints of `dbs` (the databases of this full sweep)."""
        try:
            infos = self.couch.dbs_info(dbs)
        except StorageError as exc:
            log.debug("_dbs_info: %s (the full sweep reads every database)", exc)
            self._now = {}
            return
        self._now = {db: fingerprint(info) for db, info in infos.items() if info}
        for job, read in self._read.items():     # a database gone is forgotten
            self._read[job] = {db: fp for db, fp in read.items() if db in self._now}

    def changed(self, job: str, dbs: list[str]) -> list[str]:
        """Of `dbs`, those `job` reads: changed since it last read them (or never read)."""
        read = self._read[job]
        return [db for db in dbs if db not in self._now or read.get(db) != self._now[db]]

    def read(self, job: str, db: str) -> None:
        """`job` read `db` after its fingerprint was taken, and needs it again only once it
        changes (not called: read again next time)."""
        if db in self._now:
            self._read[job][db] = self._now[db]
