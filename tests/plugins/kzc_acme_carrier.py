"""A third-party carrier, packaged on its own: kzcarrier finds it through the
`kzcarrier.carriers` entry point (see kzc_acme_carrier-0.1.dist-info/entry_points.txt)
without any change to kzcarrier.

It behaves like a carrier with an order API, for the tests: it counts every call
(`CALLS`, in this process), and when ACME_ORDERS_URL names a CouchDB it keeps its order
book there, shared by every process: `acme_orders` holds one document per sold number,
`acme_refused` one document per order that came for a number already sold. Its order
lookup by reference is what lets kzcarrier avoid a second purchase after a crash.
Switches: ACME_LATENCY (seconds per call), FAIL (numbers refused for good), TRANSIENT
(number -> how many times to answer 503 first), BOOM (numbers whose call raises a bug)."""
import os
import time
import uuid

from kzcarrier.carriers import Carrier
from kzcarrier.couch.client import Couch
from kzcarrier.errors import ByCarrier, DocConflict

CALLS: list[tuple[str, str]] = []
SOLD: dict[str, str] = {}
FAIL: set[str] = set()
TRANSIENT: dict[str, int] = {}
BOOM: set[str] = set()  # numbers whose order crashes the carrier code itself
ORDERS, REFUSED = "acme_orders", "acme_refused"


def _book():
    url = os.environ.get("ACME_ORDERS_URL")
    return Couch(url) if url else None


class Acme(Carrier):
    maximal_prefix_length = 6

    def find_numbers(self, prefix, quantity, options):
        return {f"{prefix}{i:0{12 - len(prefix)}d}": {"acme_rate": "0.50"}
                for i in range(quantity)}

    def _call(self, action, pn):
        CALLS.append((action, pn.number))
        time.sleep(float(os.environ.get("ACME_LATENCY", "0")))
        if TRANSIENT.get(pn.number, 0) > 0:
            TRANSIENT[pn.number] -= 1
            raise ByCarrier(pn.number, self.name, "503 Service Unavailable", transient=True,
                            retry_after=0.05, nothing_done=True)
        if pn.number in FAIL:
            raise ByCarrier(pn.number, self.name, "acme says no: out of stock")
        if pn.number in BOOM:
            raise RuntimeError("acme client bug")

    def acquire_number(self, pn):
        self._call("acquire", pn)
        book = _book()
        if book is not None:
            try:  # the sale is one atomic write: a second order for the number is refused
                book.put(ORDERS, {"_id": pn.number, "reference": pn.order_reference})
            except DocConflict as exc:
                book.put(REFUSED, {"_id": uuid.uuid4().hex, "number": pn.number,
                                   "reference": pn.order_reference})
                raise ByCarrier(pn.number, self.name, "number already sold") from exc
        SOLD[pn.number] = pn.order_reference
        pn.carrier_data = {**pn.carrier_data, "acme_order": f"order-{pn.number}",
                           "reference": pn.order_reference}
        return pn

    def disconnect_number(self, pn):
        self._call("disconnect", pn)
        return pn

    def check_numbers(self, numbers):
        return {n: "active" for n in numbers if n.startswith("+1415")}

    def lookup_order(self, pn, request_id, action):
        book = _book()
        if book is None:
            sold = SOLD.get(pn.number) == request_id
            return {"acme_order": f"order-{pn.number}", "reference": request_id} if sold \
                else None
        if action != "acquire":
            return None
        order = book.get(ORDERS, pn.number, missing_ok=True)
        if order and order.get("reference") == request_id:
            return {"acme_order": f"order-{pn.number}", "reference": request_id}
        return None


class AcmeSlow(Acme):
    """Answers searches after SLOW_SEARCH seconds (default 5)."""

    def find_numbers(self, prefix, quantity, options):
        time.sleep(float(os.environ.get("SLOW_SEARCH", "5")))
        return {f"{prefix}9{i:0{11 - len(prefix)}d}": {"slow": True} for i in range(quantity)}


class AcmeBroken(Acme):
    """Its search fails."""

    def find_numbers(self, prefix, quantity, options):
        raise ByCarrier(None, self.name, "500 Internal Server Error")

    def check_numbers(self, numbers):
        raise ByCarrier(None, self.name, "500 Internal Server Error")
