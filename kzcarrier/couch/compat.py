"""The one place where kzcarrier bends to a CouchDB-compatible server that is not CouchDB.

Apache CouchDB 3.x is the target; everything outside this module is written for it. The
embedded development/test server, pouchdb-server 4.2.0 (reference/couchdb-test-server.md),
differs in ways a client cannot paper over with "safe" requests alone:

* it strips `/` from database names, so `numbers/+1415` would become `numbers+1415`
  (and `account/ac/co/unt...` collapses), and it decodes `%` in names a second time. On
  it, `/` is stored as `$` (`numbers$+1415`), a character CouchDB allows in names and KAZOO
  never uses, so the mapping is one-to-one;
* its `_changes` has no `pending`, and ignores `timeout` on longpoll (never answers when
  idle): a longpoll is emulated with short `feed=normal` reads until the deadline;
* `filter=_selector` crashes it: callers ask the profile (`selector_filter`) and use a
  view instead;
* it answers `_db_updates` with a bare 400; the embedded server answers it as CouchDB does
  (`server/dbupdates.js`, preloaded by `couch/embedded.py`; positions in memory, so a
  position from before the server's restart is answered with every database). The watcher
  asks the server itself (`engine/dbfeed.py` DbUpdates) and, where it is not answered,
  looks at idle databases in turn;
* `_changes?conflicts=true` with `include_docs` crashes it once a document has sibling
  revisions (`processChange` of an undefined winner): feeds ask `changes_conflicts`, and
  on pouch the siblings are found where the engine reads a document itself. The same
  exception can come from a plain feed read racing sibling writes; `server/guard.js`
  (preloaded by `couch/embedded.py`) keeps the server alive, and that answer is lost;
* `?conflicts=true` can list a sibling revision that `?rev=` then answers 404 for (the
  loser of a `new_edits=false` write): `readable_conflicts` lets the merge delete it,
  since there is nothing to read; on CouchDB an unreadable sibling is never deleted;
* its `_bulk_docs` answers in its own order (conflicts may come first), where CouchDB
  answers in the order of the request: `bulk_results` puts them back by `_id` (the group
  commit never sends one `_id` twice in a request, so the match is exact).

The profile is chosen from the server's own identification (`GET /`), never configured.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServerProfile:
    vendor: str                 # "couchdb" or "pouchdb-server"
    version: str
    slash_in_db_names: bool     # stores `numbers/+1415` as named
    longpoll_timeout: bool      # honours `timeout` on feed=longpoll
    reports_pending: bool       # `pending` in _changes
    selector_filter: bool       # `_changes?filter=_selector` is safe
    replicator_db: bool         # `_replicator` documents drive kzcarrier's replications
    changes_conflicts: bool     # `_changes?conflicts=true&include_docs=true` is safe
    readable_conflicts: bool    # every revision `_conflicts` lists can be read by `?rev=`

    def physical(self, name: str) -> str:
        """The name the server stores for KAZOO database `name`."""
        if self.slash_in_db_names:
            return name
        return name.replace("/", "$")

    def logical(self, name: str) -> str:
        """Inverse of `physical`, for names the server lists."""
        if self.slash_in_db_names:
            return name
        return name.replace("$", "/")

    def resume_from(self, seq: Any, db_info: dict[str, Any]) -> Any:
        """A stored checkpoint, unless it cannot belong to this database. pouch keeps
        `_local` documents of a deleted database when one of the same name is created
        again, and its integer seqs then point past the new database's end (where pouch
        answers with rows, not nothing): start that database over."""
        current = db_info.get("update_seq")
        if isinstance(seq, int) and isinstance(current, int) and seq > current:
            return 0
        return seq

    def bulk_results(self, docs: list[dict[str, Any]], results: list[dict[str, Any]],
                     ) -> list[dict[str, Any]]:
        """`_bulk_docs` results in the order of `docs` (a no-op on CouchDB's answers)."""
        by_id: dict[Any, list[dict[str, Any]]] = {}
        for result in results:
            by_id.setdefault(result.get("id"), []).append(result)
        if len(results) != len(docs) or any(d.get("_id") is None for d in docs):
            return results
        ordered = []
        for doc in docs:
            matches = by_id.get(doc["_id"])
            if not matches:
                return results  # not an answer to these documents: leave it as it came
            ordered.append(matches.pop(0))
        return ordered

    def since(self, seq: Any) -> str:
        """Sequences are opaque; the SDK wants a string, pouch's integers included."""
        return seq if isinstance(seq, str) else str(seq)


COUCHDB = dict(slash_in_db_names=True, longpoll_timeout=True, reports_pending=True,
               selector_filter=True, replicator_db=True,
               changes_conflicts=True, readable_conflicts=True)
POUCHDB = dict(slash_in_db_names=False, longpoll_timeout=False, reports_pending=False,
               selector_filter=False, replicator_db=False,
               changes_conflicts=False, readable_conflicts=False)


def detect(info: dict[str, Any]) -> ServerProfile:
    """Pick the profile from `GET /`: CouchDB says `couchdb`, pouchdb-server `express-pouchdb`."""
    version = str(info.get("version", ""))
    if "express-pouchdb" in info:
        return ServerProfile("pouchdb-server", version, **POUCHDB)
    return ServerProfile("couchdb", version, **COUCHDB)
