"""KAZOO's number crawler (`kt_number_crawler`): aging numbers become available after
`aging_expiry_d` days, stored discovery documents are deleted after `discovery_expiry_d`,
deleted tombstones are removed (reference/kazoo-number-maintenance.md §4).

Unlike KAZOO's, it reads each number database through `numbers/status` for just those three
states, in pages, instead of every document at once; ages count from `pvt_modified` as
KAZOO's do (a number without it is skipped: its age unknown, it is never taken as old).
An aging number turns available with no providers and no billing, and its account copy
follows (`NumberStore.save`). Each write carries the revision read: a number
that changed meanwhile is left for the next crawl.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from ..couch.client import Couch
from ..engine import protocol
from ..errors import DocConflict, KzError
from ..model.config import SYSTEM_CONFIG, Config
from ..model.document import PhoneNumber, now_gregorian
from ..numbers import SERVICE_DB
from ..ops.store import NumberStore
from .scan import Scan, Selection, number_dbs

log = logging.getLogger("kzcarrier.crawler")

DAY = 86400
RECORD = "crawler"      # the last crawl's figures, in kzcarrier's database (`status`)
TASKS = "tasks"
DEFAULTS = {"aging_expiry_d": 90, "discovery_expiry_d": 1}


def tasks_setting(config: Config, key: str) -> Any:
    """`system_config/tasks` as KAZOO reads it (node section, then default)."""
    doc = config.read(SYSTEM_CONFIG, TASKS) or {}
    for section in (config.node, "default"):
        if section and key in (doc.get(section) or {}):
            return doc[section][key]
    return DEFAULTS[key]


@dataclass
class CrawlReport:
    aged: list[str] = field(default_factory=list)            # aging -> available
    discovery_purged: list[str] = field(default_factory=list)
    deleted_purged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)    # number -> why (next crawl)
    databases: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"databases": self.databases, "aged": self.aged,
                "discovery_purged": self.discovery_purged,
                "deleted_purged": self.deleted_purged, "skipped": self.skipped}


class Crawler:
    def __init__(self, couch: Couch, store: NumberStore, config: Config,
                 clock: Callable[[], int] = now_gregorian):
        self.couch = couch
        self.store = store
        self.config = config
        self.clock = clock

    def crawl(self, dry_run: bool = False) -> CrawlReport:
        now = self.clock()
        aging_s = float(tasks_setting(self.config, "aging_expiry_d")) * DAY
        discovery_s = float(tasks_setting(self.config, "discovery_expiry_d")) * DAY
        report = CrawlReport()
        scan = Scan(self.couch, Selection(states=("aging", "discovery", "deleted")))
        for db in number_dbs(self.couch):
            report.databases += 1
            for doc in scan.docs_in(db):
                if protocol.is_pending(doc):
                    continue     # the engine owns a number with a request in flight
                state = doc.get("pvt_state")
                modified = doc.get("pvt_modified")
                # kzcarrier's stored search results carry their own expiry
                expires = doc.get("pvt_discovery_expires")
                known = isinstance(modified, (int, float))
                if state == "discovery" and expires is None and known:
                    expires = modified + discovery_s
                if (state == "aging" and not known) or (state == "discovery" and expires is None):
                    report.skipped[doc["_id"]] = "no pvt_modified: its age is unknown"
                    continue      # never taken as old
                if state == "aging" and modified + aging_s < now:
                    self._age(doc, now, report, dry_run)
                elif state == "discovery" and expires < now:
                    self._purge(doc, report.discovery_purged, report, dry_run)
                elif state == "deleted":
                    self._purge(doc, report.deleted_purged, report, dry_run)
        return report

    def run(self) -> CrawlReport:
        """One crawl, its figures kept for `kzcarrier status` (the watcher's chore)."""
        report = self.crawl()
        summary = {k: len(v) for k, v in report.to_json().items() if k != "databases"}
        self.couch.ensure_db(SERVICE_DB)
        self.couch.update(SERVICE_DB, RECORD, lambda doc: {
            **summary, "type": RECORD, "databases": report.databases,
            "finished": now_gregorian()})
        log.info("crawler: %s numbers aged, %s discovery and %s deleted purged, %s skipped",
                 summary["aged"], summary["discovery_purged"], summary["deleted_purged"],
                 summary["skipped"])
        return report

    def _age(self, doc: dict[str, Any], now: int, report: CrawlReport, dry_run: bool) -> None:
        if dry_run:
            report.aged.append(doc["_id"])
            return
        pn = PhoneNumber.from_json(doc)
        pn.state = "available"
        pn.set_private("pvt_modified", now)
        saved = self.store.save([pn])
        if pn.number in saved.saved:
            report.aged.append(pn.number)
        else:
            report.skipped[pn.number] = "changed meanwhile" if saved.conflicts else str(
                saved.failed.get(pn.number))

    def _purge(self, doc: dict[str, Any], into: list[str], report: CrawlReport,
               dry_run: bool) -> None:
        if not dry_run:
            try:
                self.store.hard_delete(PhoneNumber.from_json(doc))
            except (DocConflict, KzError) as exc:
                report.skipped[doc["_id"]] = str(exc)
                return
        into.append(doc["_id"])
