"""Compatibility with KAZOO's own test data (optional: it is not part of the repository).

Runs where KZCARRIER_KAZOO_FIXTURES names KAZOO's fixture folder (dbs/, migrations/,
schemas/), or where the team's `shared/fixtures/kazoo` lies beside the checkout; skipped with
the reason otherwise. Every KAZOO number document must load, validate and migrate as KAZOO
would, and our number_manager defaults must be KAZOO's.
"""
import json

import pytest
from document_checks import assert_clean, assert_migrates

from kzcarrier.model import schemas
from kzcarrier.numbers import decode_db
from kzcarrier.sync.loader import load_directory

pytestmark = pytest.mark.kazoo_compat


def test_every_kazoo_database_loads_completely_and_idempotently(app, kazoo_fixtures_dir):
    root = kazoo_fixtures_dir / "dbs"
    dirs = [d for d in root.iterdir() if d.is_dir()]
    docs = [(decode_db(d.name), json.loads(p.read_text()))
            for d in dirs for p in (d / "docs").glob("*.json")] if dirs else []
    first = load_directory(app.couch, root)
    assert first.failed == [] and first.databases == len(dirs)
    assert first.written == len(docs)
    second = load_directory(app.couch, root)
    assert second.written == 0 and second.unchanged == len(docs)


def test_every_kazoo_number_document_is_valid(kazoo_fixtures_dir):
    paths = list((kazoo_fixtures_dir / "dbs").glob("numbers%2F*/docs/*.json")) + \
        list((kazoo_fixtures_dir / "migrations").glob("*.json"))
    for path in paths:
        schemas.validate("number", json.loads(path.read_text()), path.name)
    assert paths


def test_kazoo_migration_vectors(kazoo_fixtures_dir):
    folder = kazoo_fixtures_dir / "migrations"
    pairs = sorted(p.name[:-len("_in.json")] for p in folder.glob("*_in.json"))
    clean = sorted(p.name for p in folder.glob("old_vsn_*.1.json"))
    assert pairs and clean
    for pair in pairs:
        assert_migrates(folder, pair)
    for name in clean:
        assert_clean(folder, name)


def test_number_manager_defaults_are_kazoos(kazoo_fixtures_dir):
    kazoo = json.loads((kazoo_fixtures_dir / "schemas" /
                        "system_config.number_manager.json").read_text())
    defaults = schemas.section_defaults("system_config.number_manager")
    for key, spec in kazoo["properties"].items():
        if "default" in spec and key != "classifiers":
            assert defaults[key] == spec["default"], key


def test_the_toolkit_reads_kazoos_data_as_kazoo_stores_it(app, kazoo_fixtures_dir):
    """Listings by state and by account find exactly the number documents KAZOO's
    fixtures hold; the repairs and the crawler run over them as dry runs without a failure
    that is not reported; every port request is in one of KAZOO's states."""
    from kzcarrier.ops.services import Services
    from kzcarrier.toolkit import listing
    from kzcarrier.toolkit.columns import COLUMNS
    from kzcarrier.toolkit.crawler import Crawler
    from kzcarrier.toolkit.ports import STATES as PORT_STATES
    from kzcarrier.toolkit.ports import state_of
    from kzcarrier.toolkit.repair import Repairs
    from kzcarrier.toolkit.scan import Scan, Selection

    root = kazoo_fixtures_dir / "dbs"
    assert load_directory(app.couch, root).failed == []
    numbers = [json.loads(p.read_text()) for p in root.glob("numbers%2F*/docs/*.json")]
    numbers = [d for d in numbers if d.get("pvt_type", "number") == "number"]
    assert sorted(d["_id"] for d in Scan(app.couch).docs()) == sorted(d["_id"] for d in numbers)
    for state in {d.get("pvt_state") for d in numbers if d.get("pvt_state")}:
        want = sorted(d["_id"] for d in numbers if d.get("pvt_state") == state)
        assert sorted(d["_id"] for d in Scan(app.couch, Selection(states=(state,))).docs()) \
            == want, state
    for owner in {d.get("pvt_assigned_to") for d in numbers if d.get("pvt_assigned_to")}:
        want = sorted(d["_id"] for d in numbers if d.get("pvt_assigned_to") == owner)
        assert sorted(d["_id"] for d in Scan(app.couch, Selection(accounts=(owner,))).docs()) \
            == want, owner
    rows = list(listing.rows(app.couch, app.config, Selection()))
    assert len(rows) == len(numbers) and all(list(r) == list(COLUMNS) for r in rows)
    repairs = Repairs(app.couch, app.store(), Services(app.couch, app.rules().classify))
    for report in (repairs.copy_number_dbs_to_accounts(dry_run=True),
                   repairs.remove_wrong_assigned_from_accounts(dry_run=True),
                   repairs.fix_apps(dry_run=True), repairs.purge("deleted", dry_run=True)):
        assert report.checked >= 0 and all(isinstance(v, str) for v in report.failed.values())
    Crawler(app.couch, app.store(), app.config).crawl(dry_run=True)
    for path in root.glob("port_requests/docs/*.json"):
        assert state_of(json.loads(path.read_text())) in PORT_STATES, path.name
