"""`knm_managed`: a per-account generated inventory in the `numbers/managed` database.

Search returns `discovery` numbers (buying goes through acquire); acquire marks the managed
document taken by the new owner, disconnect returns it to `available`.
"""
from __future__ import annotations

from typing import Any

from ..errors import StorageError, Unspecified
from . import DbCarrier

MANAGED_DB = "numbers/managed"


class Managed(DbCarrier):
    search_state = "discovery"
    maximal_prefix_length = 15

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        couch = self.ctx.couch
        if not couch.db_exists(MANAGED_DB):
            return {}
        prefix = prefix if prefix.startswith("+") else "+" + prefix
        account = options.get("account_id")
        for owner in (account, options.get("reseller_id")):
            if not owner:
                continue
            rows = couch.view(MANAGED_DB, "numbers_managed", "status",
                              start_key=[owner, "available", prefix],
                              end_key=[owner, "available", prefix + "\ufff0"], limit=quantity)
            if rows:
                return {row["id"]: {} for row in rows}
        return {}

    def is_number_billable(self, pn: Any) -> bool:
        return True

    def _mark(self, pn: Any, state: str, assigned_to: str | None) -> Any:
        def change(doc: dict[str, Any] | None) -> dict[str, Any]:
            doc = doc or {"pvt_type": "number"}
            doc.update({"pvt_module_name": self.name, "pvt_state": state})
            if assigned_to:
                doc["pvt_assigned_to"] = assigned_to
            else:
                doc.pop("pvt_assigned_to", None)
            return doc
        try:
            self.ctx.couch.update(MANAGED_DB, pn.number, change)
        except StorageError as exc:
            raise Unspecified("database_error", str(exc)) from exc
        return pn

    def acquire_number(self, pn: Any) -> Any:
        return self._mark(pn, pn.state, pn.assigned_to)

    def disconnect_number(self, pn: Any) -> Any:
        return self._mark(pn, "available", None)
