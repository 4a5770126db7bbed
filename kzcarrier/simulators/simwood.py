"""A Simwood numbers API simulator: available numbers by pattern, allocate (PUT), release
(DELETE), and GET of an allocated number (kzcarrier's order lookup)."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from . import Request, Simulator, available_numbers


class SimwoodSimulator(Simulator):
    name = "simwood"

    def __init__(self, seed: int = 1, account: str = "930000", user: str = "kzcarrier",
                 password: str = "sim-pass"):
        super().__init__(seed)
        self.account, self.user, self.password = account, user, password

    def route(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        if not self.basic_auth_ok(req, self.user, self.password):
            return 401, {"error": "unauthorized"}, {}
        parts = [unquote(p) for p in req.path.strip("/").split("/")]
        if self.account not in parts:
            return 404, {"error": "no such account"}, {}
        if "available" in parts:
            size = int(parts[-1])
            pattern = (req.query.get("pattern") or ["*"])[0].rstrip("*")
            nums = available_numbers("+" + pattern.lstrip("+"), size, self.sold)
            # Simwood answers country code and national number apart, no "+"
            def split(n: str) -> tuple[str, str]:
                cc = "1" if n.startswith("+1") else n[1:3]
                return cc, n[1 + len(cc):]
            return 200, [{"country_code": split(n)[0], "number": split(n)[1],
                          "recommended_gold": 0} for n in nums], {}
        if "allocated" in parts:
            num = "+" + parts[-1].lstrip("+")
            with self.lock:
                if req.method == "PUT":
                    if num in self.sold:
                        return 409, {"error": "number not available"}, {}
                    self.sold[num] = {"number": num}
                    self.record.orders.append({"number": num})
                    return 200, {"number": parts[-1], "status": "allocated"}, {}
                if req.method == "DELETE":
                    if num not in self.sold:
                        return 404, {"error": "number not allocated"}, {}
                    self.sold.pop(num)
                    self.record.releases.append({"number": num})
                    return 204, b"", {}
                if req.method == "GET":
                    if num not in self.sold:
                        return 404, {"error": "number not allocated"}, {}
                    return 200, {"number": parts[-1], "status": "allocated"}, {}
        return 404, {"error": "not found"}, {}
