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
