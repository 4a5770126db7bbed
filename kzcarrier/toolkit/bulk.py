"""Numbers in bulk: KAZOO's `number_management` CSV tasks (import, assign_to, reserve,
release, delete, update_merge/update_overwrite), `convert_carrier_module`, and
`generate_numbers` for the managed and inum pools (reference/kazoo-number-maintenance.md
§3.7, §3.8, §7).

Every row goes through the same operations as `kzcarrier number ...` (authorisation, the
state table, the carrier call exactly once, providers, charges), one row at a time, and
gives one result row: the number's 26 columns as it now is, or the input with `error`. A bad
row (a cell that fails KAZOO's verifiers, a refused operation) changes nothing and never
stops the rows after it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from .. import carriers
from ..couch.client import Couch
from ..errors import KzError
from ..model.auth import SYSTEM
from ..model.document import now_gregorian
from ..numbers import is_account_id
from ..ops.model import Options
from ..ops.operations import Ops
from .columns import COLUMNS, check_row, public_fields_of, row_of
from .scan import Scan, Selection

ACTIONS = ("import", "assign_to", "reserve", "release", "delete", "update_merge",
           "update_overwrite")
POOLS = {"managed": ("numbers/managed", "knm_managed"), "inum": ("numbers/inum", "knm_inum")}


@dataclass
class Task:
    """One CSV task: `action` run for `account` (the task's account) by `auth_by`."""

    ops: Ops
    action: str
    account: str | None
    auth_by: str = SYSTEM
    accept_charges: bool = False
    names: Callable[[str], str] = lambda account: ""

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise KzError(f"unknown action {self.action!r}: one of {', '.join(ACTIONS)}")

    def run(self, rows: Iterable[Mapping[str, str]]) -> Iterator[dict[str, str]]:
        admin = self.ops.accounts(self.auth_by).is_admin(self.auth_by)
        modules = set(carriers.available())
        names = _Names(self.names)
        for row in rows:
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                check_row(row, modules)
                outcome = self._apply(row, admin)
            except KzError as exc:
                yield {**{c: row.get(c, "") for c in COLUMNS}, "error": str(exc)}
                continue
            if outcome.error is not None:
                yield {**{c: row.get(c, "") for c in COLUMNS}, "error": _text(outcome.error)}
                continue
            doc = outcome.doc or {"_id": row["e164"]}
            yield {**row_of(doc, names), "error": ""}

    def _apply(self, row: dict[str, str], admin: bool) -> Any:
        num = row["e164"]
        owner = row.get("account_id") if is_account_id(row.get("account_id")) else self.account
        opts: dict[str, Any] = {"auth_by": self.auth_by, "accept_charges": self.accept_charges}
        if self.action == "import":
            opts.update(assign_to=owner, ported_in=row.get("ported_in") == "true",
                        public_fields=public_fields_of(row) or None)
            if admin and row.get("carrier_module"):
                opts["module_name"] = row["carrier_module"]
            if admin and row.get("state"):
                opts["state"] = row["state"]
            operation = "create"
        elif self.action in ("assign_to", "reserve"):
            opts["assign_to"] = owner
            operation = "move" if self.action == "assign_to" else "reserve"
        elif self.action.startswith("update_"):
            opts.update(public_fields=public_fields_of(row, carrier_name=True),
                        merge=self.action == "update_merge")
            operation = "update"
        else:
            operation = self.action
        result = self.ops.perform(operation, [num], Options(**opts))
        return next(iter(result.outcomes.values()))


def _text(error: KzError) -> str:
    """KAZOO's row error is the message; the cause is added where it says more."""
    cause = error.cause
    if cause is None or str(cause) in error.message:
        return error.message
    return f"{error.message}: {cause}"


class _Names(dict):
    """Account names, looked up once each."""

    def __init__(self, lookup: Callable[[str], str]):
        super().__init__()
        self.lookup = lookup

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = self.lookup(key) if key else ""
        return self[key]


def convert_carrier(ops: Ops, source: str, target: str, prefix: str | None = None,
                    accounts: tuple[str, ...] = (), dry_run: bool = False,
                    ) -> dict[str, Any]:
    """Every number whose `pvt_module_name` is `source` moved to `target`
    (`convert_carrier_module`): an update as `system`, so providers run, quantities follow
    and each number is announced. `source` may be any string (even a module that is gone);
    `target` must be installed."""
    carriers.carrier_class(target)
    target = carriers.module_name(target)
    scan = Scan(ops.couch, Selection(accounts=accounts, module=source, prefix=prefix))
    numbers = [doc["_id"] for doc in scan.docs()]
    updated: list[str] = []
    failed: dict[str, Any] = {}
    for start in range(0, len(numbers), 100):
        chunk = numbers[start:start + 100]
        result = ops.update(chunk, Options(auth_by=SYSTEM, module_name=target,
                                           dry_run=dry_run))
        updated += list(result.successes)
        failed.update({n: e.to_json() for n, e in result.failures.items()})
    return {"source": source, "target": target, "dry_run": dry_run, "found": len(numbers),
            "updated": updated, "failed": failed}


def generate(couch: Couch, pool: str, account: str, start: str, quantity: int,
             ) -> dict[str, Any]:
    """`generate_numbers(Type, Account, Start, Quantity)`: `quantity` available documents
    from `+start` up in the pool's database, owned by `account`. A number already there is
    left as it is and reported (KAZOO's managed generator crashes on it)."""
    if pool not in POOLS:
        raise KzError(f"unknown pool {pool!r}: one of {', '.join(POOLS)}")
    if not is_account_id(account):
        raise KzError(f"{account!r} is not an account id")
    digits = start.lstrip("+")
    if not digits.isdigit() or quantity < 1:
        raise KzError("the starting number must be digits (with the country code) and the "
                      "quantity at least 1")
    db, module = POOLS[pool]
    couch.ensure_db(db)
    couch.install_design_docs(db)
    now = now_gregorian()
    docs = [{"_id": f"+{int(digits) + i}", "pvt_module_name": module, "pvt_state": "available",
             "pvt_account_id": account, "pvt_type": "number", "pvt_created": now,
             "pvt_modified": now} for i in range(quantity)]
    created, existing = [], []
    for start_at in range(0, len(docs), 500):
        chunk = docs[start_at:start_at + 500]
        for doc, result in zip(chunk, couch.bulk_save(db, chunk)):
            (existing if result.get("error") else created).append(doc["_id"])
    return {"pool": pool, "database": db, "created": created, "existing": existing}
