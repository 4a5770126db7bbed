"""`knm_simwood`: Simwood's numbers API (reference §5.6). Unlike KAZOO, results are
normalised to E.164 (Simwood answers country code and number apart, without "+"), HTTP
errors are errors (KAZOO counted any status as success), and an order lookup asks whether
the number is allocated to the account. Config `number_manager.simwood`:
`numbers_api_url` (https://api.simwood.com/v3/numbers), `simwood_account_id`,
`auth_username`, `auth_password`.
"""
from __future__ import annotations

from typing import Any

from ..errors import ByCarrier
from .http import HttpCarrier


class Simwood(HttpCarrier):
    url_key = "numbers_api_url"
    default_url = "https://api.simwood.com/v3/numbers"

    def _account(self, number: str | None = None) -> str:
        cfg = self.configuration()
        if not cfg.get("simwood_account_id") or not cfg.get("auth_username"):
            raise ByCarrier(number, self.name, "not configured: number_manager.simwood needs "
                            "simwood_account_id, auth_username and auth_password")
        return str(cfg["simwood_account_id"])

    def _auth(self) -> tuple[str, str]:
        cfg = self.configuration()
        return str(cfg.get("auth_username") or ""), str(cfg.get("auth_password") or "")

    def find_numbers(self, prefix: str, quantity: int, options: dict[str, Any],
                     ) -> dict[str, dict[str, Any]]:
        size = 1 if quantity <= 1 else 10 if quantity <= 10 else 100
        reply = self.request("GET", f"{self._account()}/available/standard/{size}",
                             params={"pattern": f"{prefix.lstrip('+')}*"}, auth=self._auth())
        out: dict[str, dict[str, Any]] = {}
        for item in reply if isinstance(reply, list) else []:
            cc, nsn = str(item.get("country_code") or ""), str(item.get("number") or "")
            digits = (nsn if nsn.startswith(cc) and len(nsn) > 10 else cc + nsn).lstrip("+")
            num = "+" + digits
            if num.startswith(prefix if prefix.startswith("+") else "+" + prefix):
                out[num] = item
            if len(out) >= quantity:
                break
        return out

    def acquire_number(self, pn: Any) -> Any:
        if not self.provisioning_allowed(pn):
            return pn
        self.request("PUT", f"{self._account(pn.number)}/allocated/{pn.number.lstrip('+')}",
                     pn.number, auth=self._auth())
        return pn

    def disconnect_number(self, pn: Any) -> Any:
        self.release("DELETE", f"{self._account(pn.number)}/allocated/"
                     f"{pn.number.lstrip('+')}", pn.number, auth=self._auth())
        return pn

    def lookup_order(self, pn: Any, request_id: str, action: str) -> dict[str, Any] | None:
        if action != "acquire":
            return None
        try:
            self.request("GET", f"{self._account(pn.number)}/allocated/"
                         f"{pn.number.lstrip('+')}", pn.number, auth=self._auth())
        except ByCarrier as exc:
            if exc.reason.startswith("not_found"):
                return None
            raise
        return {}
