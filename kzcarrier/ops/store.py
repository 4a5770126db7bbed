"""Number documents by number: read (normalise, find the database, migrate on read) and
write (`knm_phone_number:save/1` and `delete/1`, reference/kazoo-number-docs.md §3.4).

A save writes the number database (created with its views when missing), then the copy in
the owner's account database (only if that database exists, as KAZOO), then removes the copy
from the previous owner's. Every write carries the `_rev` that was read: a concurrent edit
comes back as a conflict for the caller to re-read and re-apply, never overwritten.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..couch.client import Couch
from ..errors import AssignFailure, DocConflict, KzError, NotFound, StorageError, Unspecified
from ..model.document import PhoneNumber
from ..numbers import NumberRules, account_db, is_account_id, number_db


def without_rev(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy's content: the same as its number document's, whatever their revisions."""
    return {k: v for k, v in doc.items() if k != "_rev"}


@dataclass
class SaveReport:
    saved: dict[str, PhoneNumber] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    failed: dict[str, KzError] = field(default_factory=dict)
    # saved numbers whose account copies could not be brought in step (yet)
    copies_failed: dict[str, KzError] = field(default_factory=dict)


class NumberStore:
    def __init__(self, couch: Couch, rules: NumberRules,
                 available_module_name: str = "knm_local"):
        self.couch = couch
        self.rules = rules
        self.available_module_name = available_module_name

    # --- reading -------------------------------------------------------------------------

    def fetch(self, number: str) -> PhoneNumber:
        """The number's document, migrated to the 4.x/5.x shape in memory."""
        num = self.rules.parse(number)
        doc = self.couch.get(number_db(num), num, missing_ok=True)
        if doc is None:
            raise NotFound(num)
        return PhoneNumber.from_json(doc, self.available_module_name)

    def fetch_many(self, numbers: list[str]) -> dict[str, PhoneNumber | None]:
        """Already-normalised numbers -> migrated documents (None: no document)."""
        by_db: dict[str, list[str]] = {}
        for num in numbers:
            by_db.setdefault(number_db(num), []).append(num)
        out: dict[str, PhoneNumber | None] = {}
        for db, nums in by_db.items():
            try:
                docs = self.couch.bulk_get(db, nums)
            except StorageError as exc:
                if exc.status != 404:
                    raise
                docs = {n: None for n in nums}
            for num in nums:
                doc = docs.get(num)
                out[num] = (PhoneNumber.from_json(doc, self.available_module_name)
                            if doc else None)
        return out

    # --- writing -------------------------------------------------------------------------

    def save(self, numbers: list[PhoneNumber]) -> SaveReport:
        report = SaveReport()
        by_db: dict[str, list[PhoneNumber]] = {}
        for pn in numbers:
            by_db.setdefault(pn.db, []).append(pn)
        bodies: dict[str, dict[str, Any]] = {}
        for db, pns in by_db.items():
            self.couch.ensure_db(db)
            docs = [pn.to_json() for pn in pns]
            try:
                results = self.couch.bulk_save(db, docs)
            except StorageError as exc:
                if exc.status != 404:
                    raise
                self.couch.forget_db(db)  # deleted behind our back: create it again
                self.couch.ensure_db(db)
                results = self.couch.bulk_save(db, docs)
            for pn, doc, result in zip(pns, docs, results):
                if result.get("error") == "conflict":
                    report.conflicts.append(pn.number)
                elif result.get("error"):
                    report.failed[pn.number] = Unspecified(
                        "database_error", f"{result['error']}: {result.get('reason', '')}")
                else:
                    pn.set_private("_rev", result["rev"])
                    bodies[pn.number] = doc
                    report.saved[pn.number] = pn
        report.copies_failed.update(self._sync_account_copies(report.saved, bodies))
        return report

    def sync_copies(self, number: str) -> KzError | None:
        """Bring the number's account copies in step with its document again (after a
        copy failed): its owner's written, a previous owner's removed. None: done."""
        num = self.rules.parse(number)
        doc = self.couch.get(number_db(num), num, missing_ok=True)
        if doc is None:
            return None
        pn = PhoneNumber.from_json(doc, self.available_module_name)
        return self._sync_account_copies({num: pn}, {num: without_rev(doc)}).get(num)

    def _sync_account_copies(self, saved: dict[str, PhoneNumber],
                             bodies: dict[str, dict[str, Any]]) -> dict[str, KzError]:
        """Each saved number's copy in its owner's account database, removed from the
        previous owner's: per account database, one read and one `_bulk_docs`. A number
        that has just changed owner most likely has no copy there yet: its copy is first
        written without a read, and read only if that write conflicts."""
        puts: dict[str, list[str]] = {}
        drops: dict[str, list[str]] = {}
        arriving: set[str] = set()
        for num, pn in saved.items():
            owner, previous = pn.assigned_to, pn.previously_assigned_to
            if owner and is_account_id(owner):
                puts.setdefault(account_db(owner), []).append(num)
                if previous != owner:
                    arriving.add(num)
            if previous and previous != owner and is_account_id(previous):
                drops.setdefault(account_db(previous), []).append(num)
        failed: dict[str, KzError] = {}
        for db, nums in puts.items():
            self._copies(db, nums, bodies, failed, arriving)
        for db, nums in drops.items():
            self._copies(db, nums, None, failed)
        return failed

    def _copies(self, db: str, nums: list[str], bodies: dict[str, dict[str, Any]] | None,
                failed: dict[str, KzError], arriving: set[str] = frozenset()) -> None:
        """Write (`bodies`) or delete (None) the copies of `nums` in account `db`; a copy
        that meets a concurrent edit goes through the one-by-one path."""
        try:
            if not self.couch.db_exists(db, cached=True):
                return  # KAZOO skips the copy when the account database does not exist
            if bodies is not None and arriving:
                nums = self._create_copies(db, nums, bodies, arriving, failed)
                if not nums:
                    return
            current = self.couch.bulk_get(db, nums)
            wanted: list[dict[str, Any]] = []
            for num in nums:
                have = current.get(num)
                if bodies is None:
                    if have is not None:
                        wanted.append({"_id": num, "_rev": have["_rev"], "_deleted": True})
                    continue
                body = without_rev(bodies[num])
                if have is not None and without_rev(have) == body:
                    continue
                wanted.append(dict(body, _rev=have["_rev"]) if have is not None else body)
            results = self.couch.bulk_save(db, wanted) if wanted else []
        except (StorageError, KzError) as exc:
            failed.update({num: AssignFailure(str(exc)) for num in nums})
            return
        for doc, result in zip(wanted, results):
            num = doc["_id"]
            try:
                if result.get("error") == "conflict":
                    if bodies is None:
                        self.delete_copy(db, num)
                    else:
                        self.put_account_copy(db, bodies[num])
                elif result.get("error"):
                    failed[num] = AssignFailure(f"{result['error']}: {result.get('reason', '')}")
            except (StorageError, KzError) as exc:
                failed[num] = AssignFailure(str(exc))

    def _create_copies(self, db: str, nums: list[str], bodies: dict[str, dict[str, Any]],
                       arriving: set[str], failed: dict[str, KzError]) -> list[str]:
        """Create the copies of `arriving` numbers blind; returns what still needs a read
        (the others, and copies that turned out to exist)."""
        new = [num for num in nums if num in arriving]
        results = self.couch.bulk_save(
            db, [without_rev(bodies[num]) for num in new])
        left = [num for num in nums if num not in arriving]
        for num, result in zip(new, results):
            if result.get("error") == "conflict":
                left.append(num)
            elif result.get("error"):
                failed[num] = AssignFailure(f"{result['error']}: {result.get('reason', '')}")
        return left

    def put_account_copy(self, db: str, doc: dict[str, Any]) -> None:
        """The same JSON as the number document, at the copy's own revision."""
        if not self.couch.db_exists(db, cached=True):
            return  # KAZOO skips the copy when the account database does not exist

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            body = without_rev(doc)
            if current is not None and without_rev(current) == body:
                return None
            return body

        self.couch.update(db, doc["_id"], change)

    def delete_copy(self, db: str, doc_id: str) -> None:
        for _ in range(5):
            try:
                current = self.couch.get(db, doc_id, missing_ok=True)
            except StorageError:
                return
            if current is None:
                return
            try:
                self.couch.delete(db, doc_id, current["_rev"])
                return
            except DocConflict:
                continue
            except StorageError as exc:
                if exc.status == 404:
                    return
                raise

    def hard_delete(self, pn: PhoneNumber, tombstone: dict[str, Any] | None = None) -> None:
        """`knm_phone_number:delete/1`: owner's copy, the number document, previous copy.

        The number document is deleted at the revision that was read (a conflict raises
        DocConflict); `tombstone` fields (the request's outcome) stay readable on the
        deleted revision."""
        if pn.rev:
            body = {"_id": pn.number, "_rev": pn.rev, "_deleted": True, **(tombstone or {})}
            result = self.couch.bulk_save(pn.db, [body])[0]
            if result.get("error") == "conflict":
                raise DocConflict(f"delete {pn.number}: conflict", 409)
            if result.get("error") and result.get("error") != "not_found":
                raise Unspecified("database_error", result.get("reason"))
        for owner in {pn.assigned_to, pn.previously_assigned_to}:
            if owner and is_account_id(owner):
                self.delete_copy(account_db(owner), pn.number)
        if pn.previously_assigned_to and is_account_id(pn.previously_assigned_to):
            self.delete_copy(account_db(pn.previously_assigned_to), pn.number)
