"""Repairs on one cluster, KAZOO's `kazoo_numbers_maintenance` fixes
(reference/kazoo-number-maintenance.md §3): account copies against the number databases,
`pvt_used_by` against callflows and trunkstore, purges of discovery and deleted documents.

Each repair takes `dry_run` and returns a `Report` naming every number it changed (or would
change) and every number it could not; nothing is overwritten blind: every write carries the
revision read, and a number being worked on by the engine (a pending request) is left alone.
The number database is the truth, as in KAZOO: copies follow it, never the reverse.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from ..couch.client import Couch
from ..couch.paging import iter_all_docs
from ..engine import protocol
from ..errors import DocConflict, KzError, StorageError
from ..model.document import PhoneNumber
from ..numbers import account_db, account_id_of_db, is_account_id
from ..ops.services import Services
from ..ops.store import NumberStore, without_rev
from .scan import Scan, Selection, number_dbs

COPY_IDS = {"start_key": "+", "end_key": "+\ufff0"}   # account copies are keyed by number


@dataclass
class Report:
    step: str
    dry_run: bool = False
    changed: dict[str, str] = field(default_factory=dict)    # number -> what was done
    failed: dict[str, str] = field(default_factory=dict)     # number -> why
    checked: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "dry_run": self.dry_run, "checked": self.checked,
                "changed": self.changed, "failed": self.failed}

    def lines(self) -> list[str]:
        verb = "would be" if self.dry_run else ""
        out = [f"{self.step}: {self.checked} checked, {len(self.changed)} "
               f"{verb + ' ' if verb else ''}changed, {len(self.failed)} failed"]
        out += [f"  {num}  {what}" for num, what in sorted(self.changed.items())]
        out += [f"  {num}  FAILED {why}" for num, why in sorted(self.failed.items())]
        return out


def account_dbs(couch: Couch, accounts: list[str] | None = None) -> list[str]:
    if accounts:
        return [account_db(a) for a in accounts]
    return [db for db in couch.all_dbs("account/") if account_id_of_db(db)]


class Repairs:
    def __init__(self, couch: Couch, store: NumberStore, services: Services | None = None):
        self.couch = couch
        self.store = store
        self.services = services

    def _owned(self, accounts: list[str] | None) -> Iterator[dict[str, Any]]:
        scan = Scan(self.couch, Selection(accounts=tuple(accounts or ())))
        for db in number_dbs(self.couch):
            for doc in scan.docs_in(db):
                if doc.get("pvt_assigned_to"):
                    yield doc

    # --- account copies ------------------------------------------------------------------

    def copy_number_dbs_to_accounts(self, accounts: list[str] | None = None,
                                    dry_run: bool = False) -> Report:
        """Every assigned number's copy in its owner's account database, made equal to the
        number document (`copy_number_dbs_to_accounts`, `copy_assigned_number_dbs_to_account`)."""
        report = Report("copy_number_dbs_to_accounts", dry_run)
        for doc in self._owned(accounts):
            report.checked += 1
            owner = doc["pvt_assigned_to"]
            db = account_db(owner) if is_account_id(owner) else None
            if db is None or not self.couch.db_exists(db, cached=True):
                report.failed[doc["_id"]] = f"account database of {owner} not found"
                continue
            copy = self.couch.get(db, doc["_id"], missing_ok=True)
            if copy is not None and without_rev(copy) == without_rev(doc):
                continue
            report.changed[doc["_id"]] = f"copy {'written' if copy is None else 'updated'} " \
                                         f"in {owner}"
            if not dry_run:
                try:
                    self.store.put_account_copy(db, doc)
                except (StorageError, KzError) as exc:
                    report.changed.pop(doc["_id"])
                    report.failed[doc["_id"]] = str(exc)
        return report

    def remove_wrong_assigned_from_accounts(self, accounts: list[str] | None = None,
                                            dry_run: bool = False) -> Report:
        """Copies in an account database whose `pvt_assigned_to` names another account
        (`remove_wrong_assigned_from_accounts`); copies without an owner stay, as KAZOO."""
        report = Report("remove_wrong_assigned_from_accounts", dry_run)
        for db in account_dbs(self.couch, accounts):
            account = account_id_of_db(db)
            if not self.couch.db_exists(db):
                continue
            for copy in iter_all_docs(self.couch, db, **COPY_IDS):
                if copy.get("pvt_type", "number") != "number" or copy.get("pvt_deleted"):
                    continue
                report.checked += 1
                owner = copy.get("pvt_assigned_to")
                if not owner or owner == account:
                    continue
                report.changed[copy["_id"]] = f"copy removed from {account} (owner {owner})"
                if not dry_run:
                    self._delete(db, copy, report)
        return report

    def _delete(self, db: str, doc: dict[str, Any], report: Report) -> None:
        try:
            self.couch.delete(db, doc["_id"], doc["_rev"])
        except (DocConflict, StorageError) as exc:
            report.changed.pop(doc["_id"], None)
            report.failed[doc["_id"]] = f"changed meanwhile: {exc}"

    # --- used_by from callflows and trunkstore ---------------------------------------------

    def fix_apps(self, accounts: list[str] | None = None, dry_run: bool = False) -> Report:
        """`pvt_used_by` of each owned number from its owner's callflows and trunkstore
        (`fix_apps_in_number_dbs_for_accounts`); the number and its copy are saved together.
        A number in both stays as it is (KAZOO's `calltrunkflow`)."""
        report = Report("fix_apps_for_account", dry_run)
        apps: dict[str, dict[str, str]] = {}
        for doc in self._owned(accounts):
            report.checked += 1
            owner = doc["pvt_assigned_to"]
            if owner not in apps:
                apps[owner] = apps_of(self.couch, owner)
            found = apps[owner].get(doc["_id"])
            current = doc.get("pvt_used_by")
            if found == "calltrunkflow" or found == current or protocol.is_pending(doc):
                continue
            report.changed[doc["_id"]] = f"used_by {current or '-'} -> {found or '-'}"
            if not dry_run:
                pn = PhoneNumber.from_json(doc)
                pn.used_by = found
                saved = self.store.save([pn])
                if doc["_id"] not in saved.saved:
                    report.changed.pop(doc["_id"])
                    report.failed[doc["_id"]] = "changed meanwhile" if saved.conflicts \
                        else str(saved.failed.get(doc["_id"]))
        return report

    # --- purges --------------------------------------------------------------------------

    def purge(self, state: str, prefix: str | None = None, dry_run: bool = False) -> Report:
        """Delete every number document in `state` (`purge_discovery`, `purge_deleted`);
        KAZOO deletes them from the number databases only."""
        if state not in ("discovery", "deleted"):
            raise KzError(f"only discovery and deleted documents are purged, not {state}")
        report = Report(f"purge_{state}", dry_run)
        scan = Scan(self.couch, Selection(states=(state,), prefix=prefix))
        for db in number_dbs(self.couch, prefix):
            for doc in scan.docs_in(db):
                report.checked += 1
                if protocol.is_pending(doc):
                    continue
                report.changed[doc["_id"]] = "deleted"
                if not dry_run:
                    self._delete(db, doc, report)
        return report

    # --- the composite -------------------------------------------------------------------

    def fix_account_db_numbers(self, account: str, dry_run: bool = False) -> list[Report]:
        """KAZOO's `fix_account_db_numbers(A)` (and `POST .../phone_numbers/fix`): used_by,
        copies overwritten from the number databases, wrong copies removed, quantities."""
        reports = [self.fix_apps([account], dry_run),
                   self.copy_number_dbs_to_accounts([account], dry_run),
                   self.remove_wrong_assigned_from_accounts([account], dry_run)]
        if self.services is not None and self.services.enabled():
            step = Report("reconcile_services", dry_run, checked=1)
            drift = self.services.drift(account)
            if drift is not None:
                step.changed[account] = f"quantities {drift['stored']} -> {drift['counted']}"
                if not dry_run:
                    self.services.reconcile(account)
            reports.append(step)
        return reports


def apps_of(couch: Couch, account: str) -> dict[str, str]:
    """number -> `callflow`, `trunkstore` or `calltrunkflow`, from the account's callflow
    documents (`numbers`) and trunkstore documents (`servers[].DIDs`), read in pages."""
    db = account_db(account)
    found: dict[str, str] = {}
    if not couch.db_exists(db, cached=True):
        return found
    for doc in iter_all_docs(couch, db):
        kind = doc.get("pvt_type")
        if kind == "callflow" and not doc.get("pvt_deleted"):
            nums = [n for n in doc.get("numbers") or [] if isinstance(n, str)]
            app = "callflow"
        elif kind == "sys_info" and not doc.get("pvt_deleted"):
            nums = [n for server in doc.get("servers") or [] if isinstance(server, dict)
                    for n in (server.get("DIDs") or {})]
            app = "trunkstore"
        else:
            continue
        for num in nums:
            other = found.get(num)
            found[num] = app if other in (None, app) else "calltrunkflow"
    return found


