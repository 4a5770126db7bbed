"""`knm_local` and `knm_inventory`: numbers already in the system's number databases.

Search reads `_design/numbers/status` for `available` numbers of this module. Unlike KAZOO,
the end key is bounded by the prefix (KAZOO's `"\\ufff0"` end key can return `+14156...`
for a `+14155` search). acquire/disconnect are no-ops.
"""
from __future__ import annotations

from typing import Any

from ..numbers import number_db
from . import DbCarrier


def search_status_view(couch: Any, module: str, prefix: str, quantity: int, offset: int,
                       ) -> dict[str, dict[str, Any]]:
    if not prefix.startswith("+") or len(prefix) < 5:
        return {}
    db = number_db(prefix)
    if not couch.db_exists(db):
        return {}
    rows = couch.view(db, "numbers", "status", start_key=["available", module, prefix],
                      end_key=["available", module, prefix + "\ufff0"], limit=quantity,
                      skip=offset, include_docs=True, reduce=False)
    return {row["id"]: (row.get("doc") or {}).get("pvt_carrier_data") or {} for row in rows}


class Local(DbCarrier):
    search_state = "available"

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        if not options.get("account_id"):
            return {}
        return search_status_view(self.ctx.couch, self.name, prefix, quantity,
                                  int(options.get("offset", 0)))


class Inventory(Local):
    """Like local, but KAZOO reports it as not local (its numbers come from elsewhere)."""

    def is_local(self) -> bool:
        return False


class Mdn(DbCarrier):
    """Mobile numbers: created by the mobile subsystem, never searched."""

    maximal_prefix_length = 0

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        return {}

    def is_local(self) -> bool:
        return False
