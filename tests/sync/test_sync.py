"""Sync with an existing KAZOO cluster: two CouchDB-compatible servers (the KAZOO side is a
second embedded server, or KZCARRIER_TEST_OTHER_COUCH_URL)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kzcarrier.cli.main import cli
from kzcarrier.couch.client import Couch
from kzcarrier.couch.embedded import EmbeddedServer
from kzcarrier.sync.loader import load_directory
from kzcarrier.sync.pull import copy
from kzcarrier.sync.verify import fix, verify

ROOT = Path(__file__).resolve().parents[2]
RESELLER = "account0000000000000000000000002"
OTHER_ENV = "KZCARRIER_TEST_OTHER_COUCH_URL"


@pytest.fixture(scope="module")
def other_url(tmp_path_factory):
    if os.environ.get(OTHER_ENV):
        yield os.environ[OTHER_ENV]
        return
    if os.environ.get("KZCARRIER_TEST_COUCH_URL") and not os.environ.get(OTHER_ENV):
        pytest.skip(f"two servers needed: set {OTHER_ENV} to a second CouchDB")
    server = EmbeddedServer(tmp_path_factory.mktemp("kazoo"), in_memory=True).start()
    yield server.url
    server.stop()


@pytest.fixture
def kazoo(other_url):
    couch = Couch(other_url)
    before = set(couch.all_dbs())
    yield couch
    for db in set(Couch(other_url).all_dbs()) - before:
        couch.delete_db(db)


@pytest.fixture
def kazoo_fixtures(kazoo, fixtures_dir):
    report = load_directory(kazoo, fixtures_dir / "dbs")
    assert not report.failed
    return kazoo


def cli_run(app, *args):
    result = CliRunner().invoke(cli, ["--couch-url", app.settings.couch_url, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_pull_verify_change_fix_and_pull_again(app, kazoo_fixtures):
    kazoo, ours = kazoo_fixtures, app.couch
    first = copy(kazoo, ours)
    assert first.failed == [] and first.copied > 40
    assert verify(kazoo, ours) == []
    # a change on the KAZOO side is reported exactly
    doc = kazoo.get("numbers/+1555", "+15551233322")
    kazoo.put("numbers/+1555", {**doc, "pvt_used_by": "trunkstore"})
    [diff] = verify(kazoo, ours)
    assert (diff.number, diff.kind) == ("+15551233322", "differs")
    assert diff.fields == {"pvt_used_by": {"kazoo": "trunkstore", "kzcarrier": "callflow"}}
    # the CLI says the same, and --fix repairs the kzcarrier side
    out = cli_run(app, "sync", "verify", "--kazoo", kazoo.url, "--json")
    assert out.exit_code == 1
    assert [d["number"] for d in json.loads(out.output)["differences"]] == ["+15551233322"]
    out = cli_run(app, "sync", "verify", "--kazoo", kazoo.url, "--fix")
    assert out.exit_code == 0 and "fixed on the kzcarrier side: 1" in out.output
    assert ours.get("numbers/+1555", "+15551233322")["pvt_used_by"] == "trunkstore"
    assert ours.get("account/ac/co/unt0000000000000000000000002",
                    "+15551233322")["pvt_used_by"] == "trunkstore"
    assert verify(kazoo, ours) == []
    second = copy(kazoo, ours)
    assert (second.copied, second.deleted, second.failed) == (0, 0, [])


def test_pull_migrates_and_builds_account_copies_from_number_docs(app, kazoo_fixtures):
    ours = app.couch
    copy(kazoo_fixtures, ours)
    legacy = ours.get("numbers/+1201", "+12014370855")
    assert legacy["pvt_state"] == "in_service" and "pvt_number_state" not in legacy
    assert legacy["pvt_resource_db"]                       # every field kept
    # the copy in the owner's database is the number document itself
    copy_doc = ours.get("account/ac/co/unt0000000000000000000000002", "+12014370855")
    assert {k: v for k, v in copy_doc.items() if k != "_rev"} == \
        {k: v for k, v in legacy.items() if k != "_rev"}
    # what authorisation needs came along
    assert ours.get("accounts", RESELLER)["pvt_tree"]
    assert ours.get("system_config", "number_manager.vitelity")["default"]["routesip"]
    assert ours.get("account/ac/co/unt0000000000000000000000003",
                    "configs_number_manager")["carrier_modules"]
    assert ours.get("account/ac/co/unt0000000000000000000000001",
                    "device00000000000000000000000001", missing_ok=True) is None


def test_3x_data_set_pulls_into_4x_shape_with_every_field(app, kazoo):
    acct = "0123456789abcdef0123456789abcdef"
    adb = "account/01/23/456789abcdef0123456789abcdef"
    kazoo.create_db("numbers/+1415")
    kazoo.create_db(adb)
    three = {"_id": "+14158867900", "pvt_number_state": "in_service",
             "pvt_module_name": "wnm_vitelity", "pvt_module_data": {"order_id": "V-1"},
             "pvt_features": ["outbound_cnam", "failover"], "cnam": {"display_name": "ACME"},
             "failover": {"e164": "+14155550000"}, "pvt_assigned_to": acct,
             "pvt_reserve_history": [acct], "pvt_created": 63565934344,
             "pvt_modified": 63565934349, "pvt_resource_db": "account%2Fxx", "used_by": "callflow"}
    kazoo.put("numbers/+1415", three)
    kazoo.put(adb, {"_id": acct, "pvt_type": "account", "pvt_tree": []})
    kazoo.put(adb, {"_id": "phone_numbers", "pvt_type": "phone_numbers", "pvt_vsn": "1",
                    "pvt_account_id": acct,
                    "+14158867900": {"state": "in_service", "features": ["outbound_cnam"],
                                     "assigned_to": acct, "used_by": "callflow",
                                     "created": 63565934344, "updated": 63565934349},
                    "+14158867901": {"state": "reserved", "features": ["local"],
                                     "assigned_to": acct, "used_by": "",
                                     "created": 63565934344, "updated": 63565934350,
                                     "locality": {"city": "SF"}}})
    report = copy(kazoo, app.couch)
    assert report.converted == 1 and report.failed == []
    got = app.couch.get("numbers/+1415", "+14158867900")
    assert got["pvt_state"] == "in_service" and got["pvt_module_name"] == "knm_vitelity"
    assert got["pvt_carrier_data"] == {"order_id": "V-1"}
    assert got["pvt_features"] == {"outbound_cnam": {"display_name": "ACME"},
                                   "failover": {"e164": "+14155550000"}}
    for key in ("cnam", "failover", "pvt_resource_db", "pvt_reserve_history", "used_by"):
        assert got[key] == three[key]
    assert got["pvt_used_by"] == "callflow"
    # the number only the summary knew is rebuilt, with every summary field kept
    rebuilt = app.couch.get("numbers/+1415", "+14158867901")
    assert (rebuilt["pvt_state"], rebuilt["pvt_assigned_to"]) == ("reserved", acct)
    assert rebuilt["pvt_features"] == {"local": {}} and rebuilt["pvt_locality"] == {"city": "SF"}
    assert rebuilt["pvt_modified"] == 63565934350
    # per-number copies replace the summary document
    assert app.couch.get(adb, "+14158867900") and app.couch.get(adb, "+14158867901")
    assert app.couch.get(adb, "phone_numbers", missing_ok=True) is None


def test_dry_run_writes_nothing(app, kazoo_fixtures):
    before = app.couch.all_dbs()
    out = cli_run(app, "sync", "pull", "--from", kazoo_fixtures.url, "--dry-run", "--json")
    assert out.exit_code == 0
    data = json.loads(out.output)
    assert data["dry_run"] and data["copied"] > 40
    assert app.couch.all_dbs() == before


def test_account_copy_problems_are_found_and_fixed(app, kazoo_fixtures):
    ours = app.couch
    copy(kazoo_fixtures, ours)
    reseller_db = "account/ac/co/unt0000000000000000000000002"
    child_db = "account/ac/co/unt0000000000000000000000003"
    gone = ours.get(reseller_db, "+15551233322")
    ours.delete(reseller_db, "+15551233322", gone["_rev"])
    stray = ours.get("numbers/+1555", "+15551239876")
    ours.put(child_db, {k: v for k, v in stray.items() if k != "_rev"})
    kinds = {(d.number, d.kind) for d in verify(kazoo_fixtures, ours)}
    assert kinds == {("+15551233322", "account_copy_missing"),
                     ("+15551239876", "account_copy_stale")}
    changes = fix(kazoo_fixtures, ours, verify(kazoo_fixtures, ours))
    assert len(changes) == 2
    assert ours.get(reseller_db, "+15551233322")
    assert ours.get(child_db, "+15551239876", missing_ok=True) is None
    assert verify(kazoo_fixtures, ours) == []


def test_interrupted_pull_resumes_without_losses(app, kazoo):
    docs_per_db, dbs = 300, 16
    for i in range(dbs):
        db = f"numbers/+1{300 + i}"
        kazoo.create_db(db)
        kazoo.bulk_save(db, [{"_id": f"+1{300 + i}555{n:04d}", "pvt_state": "available",
                              "pvt_module_name": "knm_local", "pvt_created": 63900000000,
                              "pvt_modified": 63900000000} for n in range(docs_per_db)])
    cmd = [sys.executable, "-m", "kzcarrier", "--couch-url", app.settings.couch_url,
           "sync", "pull", "--from", kazoo.url, "--json"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(app.couch.number_dbs()) < 3:
        time.sleep(0.01)  # kill it a few databases in
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    copied_first = sum(len(app.couch.all_docs(db, start_key="+", end_key="+\ufff0"))
                       for db in app.couch.number_dbs())
    assert copied_first < dbs * docs_per_db, "the pull finished before it was killed"
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = json.loads(done.stdout)
    assert report["copied"] <= dbs * docs_per_db - copied_first + 2 * 500  # resumed
    assert verify(kazoo, app.couch) == []
    total = sum(len(app.couch.all_docs(db, start_key="+", end_key="+\ufff0"))
                for db in app.couch.number_dbs())
    assert total == dbs * docs_per_db


def test_replicate_needs_couchdbs_replicator(app, kazoo_fixtures):
    if not app.couch.profile.replicator_db:
        out = cli_run(app, "sync", "replicate", "--kazoo", kazoo_fixtures.url)
        assert out.exit_code == 1 and "_replicator" in out.output and "sync pull" in out.output
        pytest.skip(f"{app.couch.profile.vendor}'s _replicator does not replicate with a "
                    "selector and reports no state: replication itself is tested against a "
                    "real CouchDB (KZCARRIER_TEST_COUCH_URL)")
    out = cli_run(app, "sync", "replicate", "--kazoo", kazoo_fixtures.url, "--direction",
                  "pull", "--json")
    assert out.exit_code == 0, out.output
    try:
        kazoo_fixtures.put("numbers/+1555", {"_id": "+15551230077", "pvt_state": "available",
                                             "pvt_module_name": "knm_local"})
        deadline = time.time() + 60
        while time.time() < deadline:
            if app.couch.get("numbers/+1555", "+15551230077", missing_ok=True):
                break
            time.sleep(0.5)
        assert app.couch.get("numbers/+1555", "+15551230077", missing_ok=True)
        rows = json.loads(cli_run(app, "sync", "status", "--json").output)
        assert any(r["db"] == "numbers/+1555" for r in rows)
    finally:
        for row in app.couch.all_docs("_replicator", start_key="kzcarrier-",
                                      end_key="kzcarrier-\ufff0"):
            app.couch.delete("_replicator", row["id"], row["value"]["rev"])


def test_numbers_provisioned_by_kzcarrier_push_as_kazoo_4x_documents(app, kazoo_fixtures):
    from engine_helpers import request, run_once

    ours = app.couch
    copy(kazoo_fixtures, ours)
    request(ours, "+15559871234", "create", auth_by="system", assign_to=RESELLER)
    run_once(ours, app.config)
    report = copy(ours, kazoo_fixtures)                      # push
    assert report.failed == [] and report.copied >= 2
    doc = kazoo_fixtures.get("numbers/+1555", "+15559871234")
    assert doc["pvt_type"] == "number" and doc["pvt_db_name"] == "numbers%2F%2B1555"
    assert doc["pvt_state"] == "in_service" and doc["pvt_module_name"] == "knm_local"
    assert isinstance(doc["pvt_created"], int) and doc["pvt_features"] == {"local": {}}
    # KAZOO reads it as its own: nothing to migrate
    from kzcarrier.model.document import PhoneNumber
    assert not PhoneNumber.from_json(doc).dirty
    copy_doc = kazoo_fixtures.get("account/ac/co/unt0000000000000000000000002", "+15559871234")
    assert copy_doc["pvt_request_state"]["status"] == "completed"   # extra private fields ride along
    assert verify(kazoo_fixtures, ours) == []               # both sides now agree
