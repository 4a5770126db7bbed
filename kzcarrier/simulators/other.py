"""A "phonebook" middleware simulator for knm_other: number search, block search, status
check, order; plus release (`DELETE numbers/{country}/{number}`) for kzcarrier."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from . import Request, Simulator, available_numbers


class OtherSimulator(Simulator):
    name = "other"

    def route(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        parts = [unquote(p) for p in req.path.strip("/").split("/")]
        q = {k: v[0] for k, v in req.query.items()}
        if len(parts) == 3 and parts[0] == "numbers" and parts[2] == "search":
            prefix = q.get("prefix", "")
            offset, limit = int(q.get("offset") or 0), int(q.get("limit") or 10)
            nums = available_numbers(prefix, offset + limit, self.sold)[offset:]
            return 200, {"status": "success",
                         "data": {n: {"extension": n[-1]} for n in nums}}, {}
        if len(parts) == 3 and parts[0] == "blocks" and parts[2] == "search":
            start = available_numbers(q.get("prefix", ""), 1, self.sold)
            size = int(q.get("size") or 10)
            blocks = [{"start_number": s, "end_number": f"+{int(s[1:]) + size - 1}"}
                      for s in start]
            return 200, {"status": "success", "data": blocks}, {}
        if len(parts) == 3 and parts[0] == "numbers" and parts[2] == "status":
            asked = (req.body or {}).get("data") or []
            out = [{"number": n, "status": "in_service" if ("+1" + n.lstrip("+1")[-10:])
                    in self.sold else "available"} for n in asked]
            return 200, {"status": "success", "data": out}, {}
        if len(parts) == 3 and parts[0] == "numbers" and parts[2] == "order" and \
                req.method == "PUT":
            data = (req.body or {}).get("data") or {}
            out = {}
            with self.lock:
                for num in data.get("numbers") or []:
                    if num in self.sold:
                        out[num] = {"status": "error", "message": "number already sold"}
                        continue
                    order = {"number": num, "reference": data.get("reference"),
                             "gateways": data.get("gateways")}
                    self.sold[num] = order
                    self.record.orders.append(order)
                    out[num] = {"status": "success", "opaque": {"order": len(self.sold)},
                                "locality": {"country": parts[1], "city": "SIMVILLE"}}
            return 200, {"status": "success", "data": out}, {}
        if len(parts) == 3 and parts[0] == "numbers" and req.method == "DELETE":
            with self.lock:
                if parts[2] not in self.sold:
                    return 404, {"status": "error", "message": "not ours"}, {}
                self.sold.pop(parts[2])
                self.record.releases.append({"number": parts[2]})
            return 200, {"status": "success"}, {}
        return 404, {"status": "error", "message": "not found"}, {}
