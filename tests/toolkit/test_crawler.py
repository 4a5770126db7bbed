"""The number crawler: aging -> available, discovery and deleted documents purged."""
import json

from engine_helpers import FAST, acct_db

from kzcarrier.engine.admin import status
from kzcarrier.engine.watcher import Watcher
from kzcarrier.model.document import now_gregorian
from kzcarrier.toolkit.crawler import Crawler

RESELLER = f"account{2:025d}"
DAY = 86400
DB = "numbers/+1555"


def put_number(couch, num, state, age_days, **more):
    doc = {"_id": num, "pvt_type": "number", "pvt_state": state,
           "pvt_module_name": "knm_local", "pvt_modified": now_gregorian() - age_days * DAY,
           "pvt_created": now_gregorian() - 400 * DAY, **more}
    couch.put(DB, doc)
    if more.get("pvt_assigned_to"):
        couch.put(acct_db(more["pvt_assigned_to"]), dict(doc))


def crawler(app):
    return Crawler(app.couch, app.store(), app.config)


def test_a_crawl_ages_and_purges_what_kazoo_would(loaded):
    c = loaded.couch
    put_number(c, "+15559990001", "aging", 91, pvt_assigned_to=RESELLER)
    put_number(c, "+15559990002", "aging", 30, pvt_assigned_to=RESELLER)
    put_number(c, "+15559990003", "deleted", 0)
    put_number(c, "+15559990004", "discovery", 0)          # fresh search result: stays
    put_number(c, "+15559990005", "aging", 200,
               pvt_request={"id": "r1", "operation": "move", "options": {}})

    dry = crawler(loaded).crawl(dry_run=True)
    assert dry.aged == ["+15559990001"]
    assert c.get(DB, "+15559990001")["pvt_state"] == "aging"   # a dry run writes nothing

    report = crawler(loaded).run()
    assert report.aged == ["+15559990001"]
    assert report.deleted_purged == ["+15559990003"]
    assert report.discovery_purged == ["+14082141799"]         # the fixture's, long expired
    aged = c.get(DB, "+15559990001")
    assert aged["pvt_state"] == "available"
    assert aged["pvt_modified"] >= now_gregorian() - 5
    assert c.get(acct_db(RESELLER), "+15559990001")["pvt_state"] == "available"
    assert c.get(DB, "+15559990002")["pvt_state"] == "aging"
    assert c.get(DB, "+15559990003", missing_ok=True) is None
    assert c.get(DB, "+15559990004")["pvt_state"] == "discovery"
    assert c.get(DB, "+15559990005")["pvt_state"] == "aging"   # the engine owns it
    assert c.get("numbers/+1408", "+14082141799", missing_ok=True) is None

    shown = status(c)["crawler"]
    assert shown["aged"] == 1 and shown["deleted_purged"] == 1
    assert shown["discovery_purged"] == 1


def test_a_number_of_unknown_age_is_neither_aged_nor_purged(loaded):
    """Without `pvt_modified` (a document written by hand or by another tool) its age is
    unknown, and a purchase in flight may have been saved by KAZOO without its request:
    never taken as old, it is skipped, saying why."""
    c = loaded.couch
    for num, state in (("+15559990011", "discovery"), ("+15559990012", "aging")):
        c.put(DB, {"_id": num, "pvt_type": "number", "pvt_state": state,
                   "pvt_module_name": "knm_local"})
    report = crawler(loaded).run()
    assert c.get(DB, "+15559990011")["pvt_state"] == "discovery"
    assert c.get(DB, "+15559990012")["pvt_state"] == "aging"
    assert "age is unknown" in report.skipped["+15559990011"]
    assert "+15559990012" in report.skipped


def test_aging_expiry_comes_from_system_config_tasks(loaded):
    c = loaded.couch
    c.put("system_config", {"_id": "tasks", "default": {"aging_expiry_d": 10}})
    put_number(c, "+15559990002", "aging", 30)
    assert crawler(loaded).crawl().aged == ["+15559990002"]


def test_watch_runs_the_crawler_as_a_chore(loaded, run):
    c = loaded.couch
    put_number(c, "+15559990001", "aging", 91)
    Watcher(c, loaded.config, FAST, chores=[(3600, crawler(loaded).run)]).run(once=True)
    assert c.get(DB, "+15559990001")["pvt_state"] == "available"
    out = run("status")
    assert "crawler (last run" in out.stdout and "1 aged numbers made available" in out.stdout


def test_cli_crawl(loaded, run):
    put_number(loaded.couch, "+15559990003", "deleted", 0)
    dry = json.loads(run("number", "crawl", "--dry-run", "--json").stdout)
    assert dry["deleted_purged"] == ["+15559990003"]
    assert loaded.couch.get(DB, "+15559990003") is not None
    assert "1 deleted" in run("number", "crawl").stdout
    assert loaded.couch.get(DB, "+15559990003", missing_ok=True) is None
