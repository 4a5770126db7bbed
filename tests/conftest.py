"""Test fixtures: a real CouchDB-compatible server, never a mock.

By default the suite starts the repo's pouchdb-server in memory. Set
KZCARRIER_TEST_COUCH_URL (e.g. http://admin:secret@127.0.0.1:5984) to run every test
against that server instead; the suite then deletes only the databases it created. Point it
at a CouchDB with no KAZOO databases of its own (numbers/..., system_config, accounts): the
tests load their fixtures under those names.

`tests/fixtures/` holds the project's own documents in KAZOO's storage shapes. KAZOO's own
test data is not part of the repository: the compatibility suite (`-m kazoo_compat`,
tests/compat/) runs against it only where KZCARRIER_KAZOO_FIXTURES (default: a
`shared/fixtures/kazoo` folder beside the repository) names it, and is skipped otherwise.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from kzcarrier.app import App, Settings
from kzcarrier.couch.client import Couch
from kzcarrier.couch.embedded import EmbeddedServer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KAZOO_FIXTURES = Path(os.environ.get("KZCARRIER_KAZOO_FIXTURES") or
                      Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "kazoo")
ENV_URL = "KZCARRIER_TEST_COUCH_URL"


def pytest_report_header(config: pytest.Config) -> str:
    return f"couch: {os.environ.get(ENV_URL) or 'embedded pouchdb-server (in memory)'}"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The project's own KAZOO-shaped documents (tests/fixtures)."""
    return FIXTURES


@pytest.fixture(scope="session")
def kazoo_fixtures_dir() -> Path:
    """KAZOO's own test data, for the optional compatibility suite only."""
    if not KAZOO_FIXTURES.is_dir():
        pytest.skip(f"KAZOO's fixtures are not here ({KAZOO_FIXTURES}); set "
                    "KZCARRIER_KAZOO_FIXTURES to run the compatibility suite")
    return KAZOO_FIXTURES


@pytest.fixture(scope="session")
def couch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get(ENV_URL):
        yield os.environ[ENV_URL]
        return
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the embedded test server needs it")
    server = EmbeddedServer(tmp_path_factory.mktemp("couch"), in_memory=True).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def server_dbs(couch_url: str) -> set[str]:
    """The databases the server had before the suite: never touched."""
    return set(Couch(couch_url).all_dbs())


@pytest.fixture
def app(couch_url: str, server_dbs: set[str]) -> Iterator[App]:
    """An App on the test server, starting from no database of the suite's own: what an
    earlier test left behind (a database written again by a worker that outlived it) is
    deleted first, and what this test creates afterwards."""
    cleaner = Couch(couch_url)
    for db in set(cleaner.all_dbs()) - server_dbs:
        cleaner.delete_db(db)
    app = App(Settings(couch_url=couch_url))
    yield app
    for db in set(cleaner.all_dbs()) - server_dbs:
        cleaner.delete_db(db)


@pytest.fixture
def couch(app: App) -> Couch:
    return app.couch


@pytest.fixture
def loaded(app: App, fixtures_dir: Path) -> App:
    """The fixture databases (tests/fixtures/dbs) loaded into the test server."""
    from kzcarrier.sync.loader import load_directory

    report = load_directory(app.couch, fixtures_dir / "dbs")
    assert not report.failed, report.failed
    return app


@pytest.fixture
def acme(monkeypatch):
    """The third-party carrier package (tests/plugins), on the path like any installed
    package, with its books cleared and no orders database."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent / "plugins"))
    monkeypatch.delenv("ACME_ORDERS_URL", raising=False)
    import kzc_acme_carrier
    for book in (kzc_acme_carrier.CALLS, kzc_acme_carrier.FAIL, kzc_acme_carrier.TRANSIENT,
                 kzc_acme_carrier.SOLD, kzc_acme_carrier.BOOM):
        book.clear()
    return kzc_acme_carrier
