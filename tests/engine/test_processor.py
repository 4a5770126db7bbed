"""One request through the processor: what it may write once its claim is gone."""
from contextlib import contextmanager

from engine_helpers import CHILD, db_of, request

from kzcarrier.engine import protocol
from kzcarrier.engine.processor import Processor

NUM = "+14155550177"


def test_a_claim_taken_over_during_the_carrier_call_is_not_finished_by_its_old_owner(
        loaded, acme):
    """The claim expired while the carrier was slow and another worker took the request:
    the old owner's write conflicts, and its re-plan must not record an outcome over the
    new owner's claim (the new owner asks the carrier and finishes it, once)."""
    c = loaded.couch
    c.ensure_db(db_of(NUM))
    c.put(db_of(NUM), {"_id": NUM, "pvt_state": "discovery", "pvt_module_name": "knm_acme"})
    rid = request(c, NUM, "move", assign_to=CHILD, auth_by=CHILD)
    other = {}

    @contextmanager
    def take_over(module):
        doc = c.get(db_of(NUM), NUM)
        at = protocol.now()
        other.update(doc["pvt_request_state"], worker="w-new", claimed=at,
                     claim_expires=at + 120, attempts=2)
        c.put(db_of(NUM), dict(doc, pvt_request_state=other))
        yield

    status = Processor(c, loaded.config, "w-old", gate=take_over).process(db_of(NUM), NUM)

    doc = c.get(db_of(NUM), NUM)
    assert status == "busy" and acme.CALLS == [("acquire", NUM)]
    assert doc["pvt_request_state"] == other and other["id"] == rid
    assert "pvt_transitions" not in doc and doc["pvt_state"] == "discovery"
