"""`_db_updates` as the watcher reads it: CouchDB's own, or the embedded server's
(server/dbupdates.js). The server by KZCARRIER_TEST_COUCH_URL, else the test server."""
import os
import threading
import time

import pytest

from kzcarrier.couch.client import Couch
from kzcarrier.couch.embedded import EmbeddedServer

DB = "numbers/+1415"
OTHER = "numbers/+1416"


def named_until(couch: Couch, since, want: set[str], seconds: float = 15.0):
    """Longpolls from `since` until every database in `want` is named (CouchDB batches):
    the rows {name: type} and the last position."""
    rows: dict[str, str] = {}
    deadline = time.monotonic() + seconds
    while not want <= set(rows) and time.monotonic() < deadline:
        res = couch.db_updates(feed="longpoll", since=since, timeout=2000)
        for row in res["results"]:
            rows[couch.profile.logical(row["db_name"])] = row["type"]
        since = res["last_seq"]
    return rows, since


def now(couch: Couch):
    return couch.db_updates(feed="normal", since="now")["last_seq"]


def test_a_write_wakes_a_longpoll_and_names_its_database(couch):
    couch.create_db(DB)
    since = now(couch)
    timer = threading.Timer(0.3, lambda: couch.put(DB, {"_id": "+14155550100"}))
    timer.start()
    started = time.monotonic()
    rows, _ = named_until(couch, since, {DB})
    timer.join()
    assert rows.get(DB) == "updated"
    assert time.monotonic() - started < 10      # woken, not at the longpoll's timeout


def test_databases_created_and_deleted_are_named_so(couch):
    couch.delete_db(OTHER)
    since = now(couch)
    couch.create_db(OTHER)
    rows, since = named_until(couch, since, {OTHER})
    assert rows[OTHER] in ("created", "updated")   # created, then its design documents
    couch.delete_db(OTHER)
    rows, _ = named_until(couch, since, {OTHER})
    assert rows[OTHER] == "deleted"


def test_an_idle_longpoll_answers_at_its_timeout_with_where_it_stands(couch):
    since = now(couch)
    started = time.monotonic()
    res = couch.db_updates(feed="longpoll", since=since, timeout=500)
    assert 0.4 < time.monotonic() - started < 5
    assert [r for r in res["results"] if r["db_name"].startswith("numbers")] == []
    assert res["last_seq"]


def test_limit_leaves_the_rest_for_the_next_read(couch):
    dbs = ["numbers/+1417", "numbers/+1418", "numbers/+1419"]
    for db in dbs:
        couch.create_db(db)
    rows, since = named_until(couch, now(couch), set())
    for db in dbs:
        couch.put(db, {"_id": db.replace("numbers/", "") + "5550100"})
    first = couch.db_updates(feed="normal", since=since, limit=2)
    assert len(first["results"]) <= 2
    rows = {couch.profile.logical(r["db_name"]) for r in first["results"]}
    more, _ = named_until(couch, first["last_seq"], set(dbs) - rows)
    assert set(dbs) <= rows | set(more)


embedded_only = pytest.mark.skipif(bool(os.environ.get("KZCARRIER_TEST_COUCH_URL")),
                                   reason="the embedded server's own answer")


@embedded_only
def test_local_documents_name_nothing_on_the_embedded_server(couch):
    """The watcher writes its checkpoints as `_local` documents: they are no request,
    written alone or in a `_bulk_docs`."""
    couch.create_db(DB)
    since = now(couch)
    couch.put_local(DB, "kzcarrier-watcher", {"seq": 1})
    couch.bulk_save(DB, [{"_id": "_local/other", "seq": 2}])
    res = couch.db_updates(feed="longpoll", since=since, timeout=300)
    assert res["results"] == [] and res["last_seq"] == since


@embedded_only
def test_a_position_from_before_a_restart_names_every_database(tmp_path):
    """The embedded server keeps its positions in memory: after a restart it cannot say
    what changed since an older one, so it names every database (read again, none
    missed); feed=continuous, which it does not answer, is refused with a reason."""
    server = EmbeddedServer(tmp_path / "couch").start()
    try:
        couch = Couch(server.url)
        couch.create_db(DB)
        couch.create_db(OTHER)
        since = now(couch)
        assert couch.db_updates(feed="normal", since=since)["results"] == []
        server.stop()
        server.start()
        couch = Couch(server.url)
        res = couch.db_updates(feed="longpoll", since=since, timeout=60000)
        assert {DB, OTHER} <= {couch.profile.logical(r["db_name"]) for r in res["results"]}
        assert res["last_seq"] != since
        assert couch.db_updates(feed="normal", since=res["last_seq"])["results"] == []
        with pytest.raises(Exception, match="feed=normal and feed=longpoll"):
            couch.db_updates(feed="continuous")
    finally:
        server.stop()
