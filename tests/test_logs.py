"""Logs: readable or one JSON object per line, and no secret in either."""
import io
import json
import logging
import subprocess
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from engine_helpers import CHILD, db_of, request

from kzcarrier import demo
from kzcarrier.app import App, Settings
from kzcarrier.couch.embedded import EmbeddedServer
from kzcarrier.logs import MASK, Scrubber, configure
from kzcarrier.model.config import secret_values
from kzcarrier.search import Search


@pytest.mark.parametrize("line,secret", [
    ("GET http://admin:hunter22@db1:5984/_all_dbs", "hunter22"),
    ("GET http://127.0.0.1:9/api.php?login=me&pass=s3cr3t-pw&cmd=listnpa", "s3cr3t-pw"),
    ('body {"user": "me", "api_password": "pa55-word"}', "pa55-word"),
    ("<Login>me</Login><password>xml-secret</password>", "xml-secret"),
    ("Authorization: Basic dXNlcjpzZWNyZXQ=", "dXNlcjpzZWNyZXQ="),
    ("Authorization: Bearer KEY0123456789", "KEY0123456789"),
])
def test_secret_shapes_are_masked(line, secret):
    out = Scrubber.scrub(line)
    assert secret not in out and MASK in out


def test_registered_values_are_masked_anywhere_and_short_ones_ignored():
    Scrubber.add("plain-credential-42")
    Scrubber.add("ab")
    assert Scrubber.scrub("token was plain-credential-42, ab") == f"token was {MASK}, ab"


def test_json_format_one_object_per_line_with_engine_fields_merged():
    stream = io.StringIO()
    configure("DEBUG", "json", stream)
    try:
        log = logging.getLogger("kzcarrier.test")
        log.info(json.dumps({"event": "request", "status": "completed"}))
        log.warning("calling http://u:pw-secret-1@host/ now")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed with token=tok-secret-2")
    finally:
        configure("WARNING", "text")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["event"] == "request" and lines[0]["level"] == "info"
    assert lines[0]["logger"] == "kzcarrier.test" and lines[0]["ts"].endswith("Z")
    assert "pw-secret-1" not in lines[1]["message"]
    assert "tok-secret-2" not in lines[2]["message"] and "ValueError: boom" in lines[2]["exception"]


@pytest.fixture
def secured_url(couch_url, tmp_path):
    """A CouchDB URL with a password in it: the one given to the suite when it has one,
    else a server of this test's own with an admin (an admin party has no password)."""
    if urlsplit(couch_url).password:
        yield couch_url
        return
    password = f"pw-{uuid.uuid4().hex[:12]}"
    with EmbeddedServer(tmp_path, in_memory=True) as server:
        httpx.put(f"{server.url}/_config/admins/kzc-admin", json=password, timeout=10)
        parts = urlsplit(server.url)
        yield urlunsplit(parts._replace(netloc=f"kzc-admin:{password}@{parts.netloc}"))


def test_a_full_run_logs_no_couchdb_password_nor_carrier_credential(secured_url):
    """Every simulated carrier configured with credentials; searches, purchases, a refused
    order and releases through `kzcarrier watch --once` at DEBUG: its JSON logs are read
    whole for the CouchDB password and each credential."""
    url, password = secured_url, urlsplit(secured_url).password
    app = App(Settings(couch_url=url))
    sims = demo.start_simulators(app)
    try:
        secrets = {password} | {v for name in demo.CREDENTIALS for v in secret_values(
            app.config.section(f"number_manager.{name}"))}
        assert len(secrets) >= 5
        bought = []
        for carrier, prefix in (("telnyx", "301359"), ("bandwidth2", "973"),
                                ("vitelity", "415"), ("simwood", "646"),
                                ("voip_innovations", "435"), ("other", "212")):
            found = Search(app.couch, app.config).find(prefix, quantity=1, carriers=[carrier],
                                                       store=True)
            num = found.numbers[0]["number"]
            request(app.couch, num, "move", assign_to=CHILD)
            bought.append(num)
        assert len(set(bought)) == len(bought)
        by_name = {s.name: s for s in sims}
        by_name["telnyx"].faults.status, by_name["telnyx"].faults.times = 503, 1
        logs = run_watch(url)
        for num in bought:
            request(app.couch, num, "release")
        logs += run_watch(url)
        for num in bought:
            doc = app.couch.get(db_of(num), num, missing_ok=True) or {}
            assert (doc.get("pvt_request_state") or {}).get("status") in ("completed", None)
    finally:
        for sim in sims:
            sim.stop()
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    events = [line for line in lines if line.get("event") == "request"]
    assert len([e for e in events if e["status"] == "completed"]) >= 2 * len(bought)
    assert any(line["logger"].startswith("http") for line in lines)   # DEBUG really on
    leaked = [s for s in secrets if s in logs]
    assert not leaked, f"secrets in the logs: {leaked}"


def run_watch(url: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "kzcarrier", "--couch-url", url, "watch", "--once",
         "--log-format", "json", "--log-level", "DEBUG"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr
