"""`_dbs_info`, the information of many databases in one request, as the watcher's full
sweep reads it (engine/backstop.py): CouchDB's own (2.2 and later), or the embedded
server's (server/dbsinfo.js). The server by KZCARRIER_TEST_COUCH_URL, else the test
server."""
import os

import pytest

from kzcarrier.engine.backstop import fingerprint
from kzcarrier.errors import StorageError

DB = "numbers/+1415"
MISSING = "numbers/+1499"


def test_many_databases_in_a_few_requests_in_their_order_none_for_one_missing(couch):
    dbs = [f"numbers/+13{i:02d}" for i in range(105)]
    for db in dbs:
        couch.ensure_db(db)
    couch.put(dbs[3], {"_id": "+13035550100"})
    couch.delete_db(MISSING)
    infos = couch.dbs_info([MISSING, *dbs])          # two requests: 100 at most each
    assert list(infos) == [MISSING, *dbs]
    assert infos[MISSING] is None and not couch.db_exists(MISSING)   # asking creates none
    assert infos[dbs[3]]["doc_count"] == couch.db_info(dbs[3])["doc_count"]
    assert all(info is not None and "update_seq" in info for info in list(infos.values())[1:])


def test_a_write_and_a_database_created_again_change_its_fingerprint(couch):
    couch.ensure_db(DB)
    before = fingerprint(couch.dbs_info([DB])[DB])
    assert fingerprint(couch.dbs_info([DB])[DB]) == before        # nothing written
    couch.put(DB, {"_id": "+14155550100", "pvt_state": "available"})
    written = fingerprint(couch.dbs_info([DB])[DB])
    assert written != before
    couch.delete_db(DB)
    couch.create_db(DB)
    again = fingerprint(couch.dbs_info([DB])[DB])
    assert again not in (before, written)


@pytest.mark.skipif(bool(os.environ.get("KZCARRIER_TEST_COUCH_URL")),
                    reason="the embedded server's own limit and reasons")
def test_more_than_a_hundred_keys_or_none_are_refused_with_a_reason(couch):
    with pytest.raises(StorageError, match="too_many_keys"):
        couch._call("dbs info", couch.client.post_dbs_info,
                    keys=[f"numbers$+13{i:02d}" for i in range(101)])
    with pytest.raises(StorageError, match="keys"):
        couch._call("dbs info", couch.client.send, couch.client.prepare_request(
            method="POST", url="/_dbs_info", data={},
            headers={"Accept": "application/json"}))
