"""`knm_reserved` and `knm_reserved_reseller`: numbers reserved by the account (or its
reseller), found through the account database's `numbers/list_reserved` view."""
from __future__ import annotations

from typing import Any

from ..numbers import account_db, is_account_id
from . import DbCarrier


class Reserved(DbCarrier):
    search_state = "reserved"
    account_option = "account_id"

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        account = options.get(self.account_option)
        if not is_account_id(account):
            return {}
        db = account_db(account)
        if not self.ctx.couch.db_exists(db):
            return {}
        rows = self.ctx.couch.view(db, "numbers", "list_reserved", start_key=prefix,
                                   end_key=prefix + "\ufff0", limit=quantity,
                                   skip=int(options.get("offset", 0)), include_docs=True)
        return {row["id"]: (row.get("doc") or {}).get("pvt_carrier_data") or {} for row in rows}


class ReservedReseller(Reserved):
    account_option = "reseller_id"
