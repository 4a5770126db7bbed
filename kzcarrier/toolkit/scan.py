"""Which number documents a command works on: a selection by account (with its
descendants), state, carrier module and prefix, read through the number databases' views
in pages, never by reading whole databases at once.

The view is chosen by the selection: an account reads `numbers/assigned_to` over
`[account]..[account, {}]`; a state (and module) reads `numbers/status` over
`[state, module]..`; a module alone reads `numbers/status` once per state; a prefix narrows
the databases (`+1415...` lives only in `numbers/+1415`) and then the ids; with nothing
else to select on, the documents are read by id (`_all_docs`, paged), the primary index.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from ..couch.client import Couch
from ..couch.paging import PAGE, iter_all_docs, iter_view
from ..errors import DocNotFound, KzError
from ..model.config import ACCOUNTS
from ..model.document import STATES
from ..numbers import NUMBERS_PREFIX, number_db

HIGH = {}   # sorts after every string, number and list in CouchDB's collation


@dataclass(frozen=True)
class Selection:
    accounts: tuple[str, ...] = ()      # owners (already expanded to descendants)
    states: tuple[str, ...] = ()
    module: str | None = None
    prefix: str | None = None           # E.164 prefix, "+1415" or "+141555"

    def __post_init__(self) -> None:
        unknown = [s for s in self.states if s not in STATES]
        if unknown:
            raise KzError(f"unknown state(s) {', '.join(unknown)}: "
                          f"one of {', '.join(sorted(STATES))}")
        if self.prefix is not None and not self.prefix.startswith("+"):
            raise KzError(f"prefix {self.prefix!r} must start with '+' (E.164)")

    def admits(self, doc: dict[str, Any]) -> bool:
        """The whole selection, tested on a document a narrower view read returned."""
        if self.accounts and doc.get("pvt_assigned_to") not in self.accounts:
            return False
        if self.states and state_of(doc) not in self.states:
            return False
        if self.module is not None and doc.get("pvt_module_name") != self.module:
            return False
        if self.prefix is not None and not doc["_id"].startswith(self.prefix):
            return False
        return doc.get("pvt_type", "number") == "number" and not doc["_id"].startswith("_")


def state_of(doc: dict[str, Any]) -> str | None:
    return doc.get("pvt_state") or doc.get("pvt_number_state")


def descendants(couch: Couch, account: str) -> list[str]:
    """`account` and every account whose `pvt_tree` holds it (the accounts db, paged)."""
    found = [account]
    if not couch.db_exists(ACCOUNTS, cached=True):
        return found
    for doc in iter_all_docs(couch, ACCOUNTS):
        if account in (doc.get("pvt_tree") or []) and doc["_id"] != account:
            found.append(doc["_id"])
    return found


def number_dbs(couch: Couch, prefix: str | None = None) -> list[str]:
    """The number databases a selection can touch."""
    if prefix is not None and len(prefix) >= 5:
        db = number_db(prefix)
        return [db] if couch.db_exists(db) else []
    dbs = couch.all_dbs(NUMBERS_PREFIX)
    if prefix is not None:   # "+1" reaches numbers/+1..., and numbers/managed holds anything
        dbs = [d for d in dbs if d[len(NUMBERS_PREFIX):].startswith(prefix)
               or not d[len(NUMBERS_PREFIX):].startswith("+")]
    return dbs


@dataclass
class Scan:
    """Documents of a selection, database by database (each view read is paged)."""

    couch: Couch
    selection: Selection = field(default_factory=Selection)
    page: int = PAGE
    views_installed: set[str] = field(default_factory=set)

    def docs(self) -> Iterator[dict[str, Any]]:
        for db in number_dbs(self.couch, self.selection.prefix):
            yield from self.docs_in(db)

    def docs_in(self, db: str) -> Iterator[dict[str, Any]]:
        sel = self.selection
        if not (sel.accounts or sel.states or sel.module):
            # everything (or a prefix): the primary index by id is the cheapest read
            prefix = sel.prefix
            for doc in iter_all_docs(self.couch, db, start_key=prefix,
                                     end_key=prefix + "\ufff0" if prefix else None,
                                     page=self.page):
                if sel.admits(doc):
                    yield doc
            return
        for start, end in self._ranges():
            view = "assigned_to" if self.selection.accounts else "status"
            for row in self._rows(db, view, start, end):
                doc = row.get("doc")
                if doc is not None and self.selection.admits(doc):
                    yield doc

    def _ranges(self) -> list[tuple[list[Any], list[Any]]]:
        sel = self.selection
        if sel.accounts:
            return [([a], [a, HIGH]) for a in sel.accounts]
        states = sel.states or sorted(STATES)     # a module alone: once per state
        mod = [sel.module] if sel.module is not None else []
        return [([s, *mod], [s, *mod, HIGH]) for s in states]

    def _rows(self, db: str, view: str, start: list[Any], end: list[Any],
              ) -> Iterator[dict[str, Any]]:
        try:
            yield from iter_view(self.couch, db, "numbers", view, start_key=start or None,
                                 end_key=end, page=self.page)
        except DocNotFound:
            # a database the watcher never visited: its views are installed once, here
            if db in self.views_installed or not self.couch.db_exists(db):
                return
            self.views_installed.add(db)
            self.couch.install_design_docs(db)
            yield from iter_view(self.couch, db, "numbers", view, start_key=start or None,
                                 end_key=end, page=self.page)
