"""A third-party carrier, packaged on its own: kzcarrier finds it through the
`kzcarrier.carriers` entry point (see kzc_acme_carrier-0.1.dist-info/entry_points.txt)
without any change to kzcarrier. It counts every call, for the tests."""
from kzcarrier.carriers import Carrier
from kzcarrier.errors import ByCarrier

CALLS: list[tuple[str, str]] = []
FAIL: set[str] = set()


class Acme(Carrier):
    maximal_prefix_length = 6

    def find_numbers(self, prefix, quantity, options):
        return {f"{prefix}{i:0{12 - len(prefix)}d}": {"acme_rate": "0.50"}
                for i in range(quantity)}

    def acquire_number(self, pn):
        CALLS.append(("acquire", pn.number))
        if pn.number in FAIL:
            raise ByCarrier(pn.number, self.name, "acme says no: out of stock")
        pn.carrier_data = {**pn.carrier_data, "acme_order": f"order-{pn.number}"}
        return pn

    def disconnect_number(self, pn):
        CALLS.append(("disconnect", pn.number))
        return pn
