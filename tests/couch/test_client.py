"""The storage layer against the real test server (or KZCARRIER_TEST_COUCH_URL)."""
import json
import os
import threading

import pytest

from kzcarrier.couch import compat as couch_compat
from kzcarrier.couch.client import Couch, redact, split_credentials
from kzcarrier.couch.embedded import EmbeddedServer
from kzcarrier.errors import CouchUnavailable, DocConflict, DocNotFound, StorageError

DB = "numbers/+1415"


def test_kazoo_db_names_with_slash_and_plus_are_distinct_databases(couch):
    couch.create_db(DB)
    couch.create_db("numbers/+1416")
    couch.create_db("account/ac/co/unt0000000000000000000000001")
    couch.put(DB, {"_id": "+14155550100", "a": 1})
    assert couch.get("numbers/+1416", "+14155550100", missing_ok=True) is None
    assert {DB, "numbers/+1416"} <= set(couch.number_dbs())
    assert "account/ac/co/unt0000000000000000000000001" in couch.all_dbs("account/")
    assert couch.db_exists(DB) and not couch.db_exists("numbers/+1999")


def test_databases_are_listed_by_key_range_not_the_whole_server(couch):
    """CouchDB answers `_all_dbs` for the range only when the keys are JSON strings; the
    test server ignores the range, and the client filters what comes back either way."""
    from urllib.parse import parse_qs, urlsplit

    from faultproxy import FaultProxy

    couch.create_db(DB)
    couch.create_db("accounts")
    proxy = FaultProxy(couch.url).start()
    try:
        listed = Couch(proxy.url).all_dbs("numbers/")
    finally:
        proxy.stop()
    assert DB in listed and "accounts" not in listed
    query = next(parse_qs(urlsplit(path).query) for method, path in proxy.seen
                 if urlsplit(path).path == "/_all_dbs")
    start = couch.profile.physical("numbers/")
    assert json.loads(query["start_key"][0]) == start          # JSON strings, as CouchDB wants
    assert json.loads(query["end_key"][0]) == start + "\ufff0"


def test_a_local_write_whose_answer_was_lost_is_sent_again_once(couch):
    """pouchdb-server closes a keep-alive connection idle for 5 s: a `_local` write sent
    on it just then (the feeds' snapshot, every 30 s) logged "cannot write the feeds'
    snapshot" now and then. It carries its revision, so it is sent again once at the
    revision read anew; a second loss is reported."""
    from faultproxy import FaultProxy

    from kzcarrier.errors import CouchUnavailable

    couch.create_db(DB)
    proxy = FaultProxy(couch.url).start()
    try:
        via = Couch(proxy.url)
        via.put_local(DB, "kzc-test", {"n": 1})
        proxy.drop_writes = 1                     # written, its answer lost
        via.put_local(DB, "kzc-test", {"n": 2})
        assert couch.get_local(DB, "kzc-test")["n"] == 2
        proxy.drop_writes = 2
        with pytest.raises(CouchUnavailable):
            via.put_local(DB, "kzc-test", {"n": 3})
    finally:
        proxy.stop()
    puts = [path for method, path in proxy.seen if method == "PUT" and "_local" in path]
    assert len(puts) == 1 + 2 + 2


def test_create_db_installs_kazoo_views_and_is_idempotent(couch):
    assert couch.create_db(DB) is True
    assert couch.create_db(DB) is False
    ddoc = couch.get(DB, "_design/numbers")
    assert set(ddoc["views"]) == {"assigned_to", "list_assigned_and_app", "module_name",
                                  "status", "unassigned"}
    assert couch.install_design_docs(DB) == []  # unchanged: nothing rewritten
    couch.put(DB, {"_id": "+14155550100", "pvt_state": "available",
                   "pvt_module_name": "knm_local"})
    couch.put(DB, {"_id": "+14155550101", "pvt_state": "in_service",
                   "pvt_module_name": "knm_telnyx", "pvt_assigned_to": "a" * 32})
    rows = couch.view(DB, "numbers", "status", start_key=["available"],
                      end_key=["available", {}])
    assert [r["id"] for r in rows] == ["+14155550100"]
    assert couch.view(DB, "numbers", "module_name", group=True) == [
        {"key": "knm_local", "value": 1}, {"key": "knm_telnyx", "value": 1}]
    assert [r["id"] for r in couch.view(DB, "numbers", "unassigned")] == ["+14155550100"]


def test_put_with_stale_rev_conflicts_and_update_reapplies(couch):
    couch.create_db(DB)
    rev1 = couch.put(DB, {"_id": "+14155550100", "n": 0})
    couch.put(DB, {"_id": "+14155550100", "_rev": rev1, "n": 1, "theirs": True})
    with pytest.raises(DocConflict):
        couch.put(DB, {"_id": "+14155550100", "_rev": rev1, "n": 99})
    written = couch.update(DB, "+14155550100", lambda d: {**d, "n": d["n"] + 1})
    doc = couch.get(DB, "+14155550100")
    assert doc["n"] == 2 and doc["theirs"] is True and written["_rev"] == doc["_rev"]


def test_concurrent_updates_never_lose_an_edit(couch):
    couch.create_db(DB)
    couch.put(DB, {"_id": "+14155550100", "seen": []})

    def add(i):
        couch.update(DB, "+14155550100", lambda d: {**d, "seen": d["seen"] + [i]}, attempts=50)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(couch.get(DB, "+14155550100")["seen"]) == list(range(8))


def test_each_thread_has_its_own_client_without_loading_the_ca_bundle_again(couch,
                                                                          monkeypatch):
    """Every pool thread gets a client of its own. Loading the CA bundle took 17 ms per
    client, as much CPU as a dozen requests, and a watcher starts dozens of threads: the
    bundle is loaded at most once per Couch (the SDK's own constructor, once), and an
    HTTPS connection pool uses the process's one TLS context."""
    import ssl

    loaded = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self, *args, **kwargs):
        loaded.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    couch.create_db(DB)
    for url in (couch.url, "https://couch.invalid:6984"):
        loaded.clear()
        fresh = Couch(url)
        clients = []

        def first_request(c=fresh, https=url.startswith("https")):
            clients.append(c.client)
            if https:     # nothing listens there: the pool is made, no request sent
                c.client.get_http_client().get_adapter(url).poolmanager.connection_from_url(
                    url)
            else:
                assert c.get(DB, "+14155550100", missing_ok=True) is None

        threads = [threading.Thread(target=first_request) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({id(c) for c in clients}) == 6
        assert len({id(c.get_http_client()) for c in clients}) == 6
        assert len(loaded) <= 2, url


def test_bulk_get_and_bulk_save_report_per_document(couch):
    couch.create_db(DB)
    rev = couch.put(DB, {"_id": "+14155550100"})
    couch.put(DB, {"_id": "+14155550102"})
    gone = couch.get(DB, "+14155550102")
    couch.delete(DB, "+14155550102", gone["_rev"])
    got = couch.bulk_get(DB, ["+14155550100", "+14155550101", "+14155550102"])
    assert got["+14155550100"]["_rev"] == rev
    assert got["+14155550101"] is None and got["+14155550102"] is None
    results = couch.bulk_save(DB, [{"_id": "+14155550100", "x": 1},           # no rev: conflict
                                   {"_id": "+14155550101", "x": 1}])
    assert results[0]["error"] == "conflict" and results[1]["id"] == "+14155550101"
    assert "rev" in results[1]


def test_local_checkpoints_overwrite_and_stay_out_of_changes(couch):
    couch.create_db(DB)
    assert couch.get_local(DB, "checkpoint") is None
    couch.put_local(DB, "checkpoint", {"seq": 1})
    couch.put_local(DB, "checkpoint", {"seq": 2})
    assert couch.get_local(DB, "checkpoint")["seq"] == 2
    ids = [r["id"] for r, _ in couch.iter_changes(DB)]
    assert not any(i.startswith("_local") for i in ids)


def test_a_checkpoint_written_again_costs_one_request_and_survives_another_writer(
        couch, monkeypatch):
    from engine_helpers import count_requests

    couch.ensure_db(DB)
    couch.put_local(DB, "cp", {"seq": 1})
    sent = count_requests(couch, monkeypatch)
    couch.put_local(DB, "cp", {"seq": 2})
    assert sent == {f"put _local/cp into {DB}": 1}       # its revision is remembered
    other = Couch(couch.url)
    other.put_local(DB, "cp", {"seq": 3})                 # another writer moved it on
    couch.put_local(DB, "cp", {"seq": 4})                 # refused once, read, written
    assert couch.get_local(DB, "cp")["seq"] == 4


def test_a_checkpoint_read_missing_is_written_the_first_time_in_one_request(
        couch, monkeypatch):
    from engine_helpers import count_requests

    couch.ensure_db(DB)
    assert couch.get_local(DB, "first") is None           # a database never followed
    sent = count_requests(couch, monkeypatch)
    couch.put_local(DB, "first", {"seq": 1})
    assert sent == {f"put _local/first into {DB}": 1}
    assert couch.get_local(DB, "first")["seq"] == 1
    assert couch.get_local(DB, "second") is None
    Couch(couch.url).put_local(DB, "second", {"seq": 5})  # another writer created it since
    couch.put_local(DB, "second", {"seq": 6})             # refused once, read, written
    assert couch.get_local(DB, "second")["seq"] == 6


def test_changes_normal_paged_and_longpoll(couch):
    couch.create_db(DB)
    start = couch.changes(DB).last_seq
    for i in range(7):
        couch.put(DB, {"_id": f"+1415555010{i}"})
    rows = [r for r, _ in couch.iter_changes(DB, since=start, batch=3)]
    assert [r["id"] for r in rows] == [f"+1415555010{i}" for i in range(7)]
    assert all(r["doc"]["_id"] == r["id"] for r in rows)
    tip = couch.changes(DB, since=start).last_seq
    assert couch.changes(DB, since=tip, longpoll_ms=200).results == []  # returns when idle

    def later():
        couch.put(DB, {"_id": "+14155550199"})

    timer = threading.Timer(0.3, later)
    timer.start()
    got = couch.changes(DB, since=tip, longpoll_ms=5000)
    timer.join()
    assert [r["id"] for r in got.results] == ["+14155550199"]


def test_missing_documents_and_databases(couch):
    with pytest.raises(DocNotFound):
        couch.get("numbers/+1999", "+19995550100")
    assert couch.get("numbers/+1999", "+19995550100", missing_ok=True) is None
    couch.delete_db("numbers/+1999")  # deleting a missing db is not an error


def test_unreachable_server_is_couch_unavailable():
    with pytest.raises(CouchUnavailable, match="cannot reach CouchDB"):
        Couch("http://127.0.0.1:9", timeout=2).server_info()


def test_urls_credentials_are_split_and_redacted():
    assert split_credentials("http://admin:p%40ss@127.0.0.1:5984/") == (
        "http://127.0.0.1:5984", "admin", "p@ss")
    assert redact("http://admin:secret@h:5984") == "http://admin:***@h:5984"
    with pytest.raises(StorageError):
        split_credentials("ftp://nowhere")


def test_profile_is_detected_from_the_server_identification(couch):
    info = couch.server_info()
    profile = couch.profile
    if "express-pouchdb" in info:
        assert profile.vendor == "pouchdb-server" and not profile.slash_in_db_names
    else:
        assert profile.vendor == "couchdb" and profile.slash_in_db_names


def test_compat_seam_maps_names_one_to_one():
    pouch = couch_compat.detect({"express-pouchdb": "Welcome!", "version": "4.2.0"})
    real = couch_compat.detect({"couchdb": "Welcome", "version": "3.4.3"})
    for name in ("numbers/+1415", "account/ac/co/unt0000000000000000000000001", "accounts"):
        assert pouch.logical(pouch.physical(name)) == name
        assert real.physical(name) == name
    assert "/" not in pouch.physical("numbers/+1415")
    assert pouch.physical("numbers/+1415") != pouch.physical("numbers+1415")
    assert real.longpoll_timeout and not pouch.longpoll_timeout
    assert pouch.since(3) == "3" and real.since("3-g1AA") == "3-g1AA"


@pytest.fixture
def on_disk_url(tmp_path):
    """The server by URL, else an embedded one on disk (leveldb: where pouch reorders)."""
    if os.environ.get("KZCARRIER_TEST_COUCH_URL"):
        yield os.environ["KZCARRIER_TEST_COUCH_URL"]
        return
    server = EmbeddedServer(tmp_path / "couch").start()
    try:
        yield server.url
    finally:
        server.stop()


def test_bulk_save_answers_in_the_order_of_the_request(on_disk_url):
    """CouchDB answers `_bulk_docs` in request order; pouch on disk, under concurrent
    writes, not always. Callers match answers by position: the seam restores the order."""
    import random

    couch = Couch(on_disk_url)
    couch.delete_db(DB)
    couch.create_db(DB)
    nums = [f"+1415555{i:04d}" for i in range(200)]
    first = {r["id"]: r["rev"] for r in couch.bulk_save(DB, [{"_id": n} for n in nums])}
    misordered = []

    def writer(seed):
        own, rnd = Couch(on_disk_url), random.Random(seed)   # its own requests
        for _ in range(30):
            pick = rnd.sample(nums, 8)
            results = own.bulk_save(DB, [{"_id": n, "_rev": first[n], "by": seed} for n in pick])
            if [r["id"] for r in results] != pick:
                misordered.append(pick)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    couch.delete_db(DB)
    assert misordered == []


def test_bulk_results_are_matched_by_id_and_left_alone_when_they_cannot_be():
    profile = couch_compat.detect({"couchdb": "Welcome", "version": "3.3.3"})
    docs = [{"_id": "a"}, {"_id": "b"}, {"_id": "c"}]
    shuffled = [{"id": "b", "error": "conflict"}, {"id": "c", "rev": "1"}, {"id": "a", "rev": "1"}]
    assert [r["id"] for r in profile.bulk_results(docs, shuffled)] == ["a", "b", "c"]
    short = shuffled[:2]
    assert profile.bulk_results(docs, short) is short


def test_a_database_deleted_or_created_is_seen_so_by_the_very_next_request(couch):
    """Every request finds its database as it is at that moment: one just deleted is
    missing, one just created (or created again) is there, empty. (The embedded server
    keeps the names it has listed, server/dbnames.js: a deletion must empty them.)"""
    other = "numbers/+1416"
    couch.create_db(DB)
    couch.put(DB, {"_id": "+14155550100", "a": 1})
    assert couch.get(DB, "+14155550100")["a"] == 1
    couch.delete_db(DB)
    assert not couch.db_exists(DB)
    assert DB not in couch.number_dbs()
    with pytest.raises(DocNotFound):
        couch.get(DB, "+14155550100")
    couch.create_db(other)
    couch.put(other, {"_id": "+14165550100"})
    assert couch.db_exists(other)
    couch.create_db(DB)
    assert couch.get(DB, "+14155550100", missing_ok=True) is None
    couch.put(DB, {"_id": "+14155550101"})
    assert [r["id"] for r in couch.all_docs(DB, start_key="+", end_key="+\ufff0")] == [
        "+14155550101"]
