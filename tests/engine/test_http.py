"""`watch --http`: /metrics moves as requests do; /healthz and /readyz follow CouchDB."""
import threading
import time

import httpx
import pytest
from engine_helpers import CHILD, FAST, MASTER, db_of, request, wait_until
from prometheus_client.parser import text_string_to_metric_families

from kzcarrier.couch.client import Couch
from kzcarrier.couch.embedded import EmbeddedServer, free_port
from kzcarrier.engine import protocol
from kzcarrier.engine.http import EngineHttp, parse_address
from kzcarrier.engine.watcher import Watcher
from kzcarrier.model.config import Config


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class Live:
    """A watcher with its HTTP endpoints, in a thread."""

    def __init__(self, couch, config):
        self.watcher = Watcher(couch, config, FAST)
        self.http = EngineHttp(self.watcher).start()
        self.thread = threading.Thread(target=self.watcher.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.watcher.stop()
        self.thread.join(30)
        self.http.stop()


def test_metrics_count_requests_carrier_calls_and_backlog_as_they_happen(loaded, acme):
    c = loaded.couch
    with Live(c, loaded.config) as live:
        assert wait_until(live.watcher.ready.is_set)
        before = scrape(live.http.url)
        assert value(before, "kzcarrier_ready") == 1
        assert value(before, "kzcarrier_requests_total", operation="create",
                     status="completed", carrier="knm_local") == 0
        nums = [f"+1646555{i:04d}" for i in range(12)]
        for num in nums:
            request(c, num, "create", assign_to=CHILD, auth_by=MASTER)
        buy = "+14155550190"
        c.ensure_db(db_of(buy))
        c.put(db_of(buy), {"_id": buy, "pvt_state": "discovery", "pvt_module_name": "knm_acme"})
        request(c, buy, "move", assign_to=CHILD)
        bad = "+14155550191"
        request(c, bad, "move", assign_to=CHILD)          # no such number: 404, failed
        assert wait_until(lambda: all(
            not protocol.is_pending(c.get(db_of(n), n)) for n in nums + [buy, bad]))
        after = scrape(live.http.url)
        # swept clean, a database has no series of its own (at 10,000 databases, 30,000
        # series of zeros): the per-database gauges show the databases with work
        live.watcher._sweep()
        assert wait_until(lambda: not {
            k: v for k, v in scrape(live.http.url).items() if k[0] in (
                "kzcarrier_backlog", "kzcarrier_oldest_pending_age_seconds",
                "kzcarrier_feed_lag_changes")})
    assert value(after, "kzcarrier_requests_total", operation="create", status="completed",
                 carrier="knm_local") == 12
    assert value(after, "kzcarrier_requests_total", operation="move", status="completed",
                 carrier="knm_acme") == 1
    assert value(after, "kzcarrier_carrier_call_duration_seconds_count", carrier="knm_acme",
                 action="acquire") == 1
    failed = {k: v for k, v in after.items() if k[0] == "kzcarrier_requests_total"
              and ("status", "failed") in k[1]}
    assert list(failed.values()) == [1.0] and ("operation", "move") in list(failed)[0][1]
    assert value(after, "kzcarrier_request_duration_seconds_count", operation="create") == 12
    assert value(after, "kzcarrier_workers_alive") >= 1
    assert value(after, "kzcarrier_last_heartbeat_timestamp_seconds") > time.time() - 60
    assert value(after, "kzcarrier_sweeps_total") >= 1
    assert value(after, "kzcarrier_claims_held") == 0


def test_carrier_errors_and_retries_waiting_are_visible(loaded, acme):
    c = loaded.couch
    loaded.config.set("number_manager", "request_retry_base_ms", 60000)   # a long wait
    num = "+14155550192"
    c.ensure_db(db_of(num))
    c.put(db_of(num), {"_id": num, "pvt_state": "discovery", "pvt_module_name": "knm_acme"})
    acme.TRANSIENT[num] = 5
    request(c, num, "move", assign_to=CHILD)
    with Live(c, loaded.config) as live:
        assert wait_until(lambda: value(scrape(live.http.url), "kzcarrier_carrier_errors_total",
                                      carrier="knm_acme", action="acquire",
                                      error="unspecified_fault") >= 1)
        live.watcher._sweep()
        samples = scrape(live.http.url)
    assert value(samples, "kzcarrier_retries_waiting") == 1
    assert value(samples, "kzcarrier_backlog", database="numbers/+1415") == 1
    assert value(samples, "kzcarrier_oldest_pending_age_seconds", database="numbers/+1415") >= 0
    assert value(samples, "kzcarrier_requests_total", operation="move", status="retry",
                 carrier="knm_acme") == 1


def test_healthz_follows_couchdb_going_away_and_coming_back(tmp_path):
    port = free_port()
    server = EmbeddedServer(tmp_path, port=port).start()
    couch = Couch(server.url)
    watcher = Watcher(couch, Config(couch), FAST)
    http = EngineHttp(watcher).start()
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        assert wait_until(watcher.ready.is_set)
        ok = httpx.get(f"{http.url}/healthz", timeout=10)
        assert ok.status_code == 200 and ok.json()["status"] == "ok"
        assert httpx.get(f"{http.url}/readyz", timeout=10).status_code == 200
        server.stop()
        down = httpx.get(f"{http.url}/healthz", timeout=30)
        assert down.status_code == 503
        assert down.json()["checks"]["couchdb"]["ok"] is False
        assert "CouchDB" in down.json()["checks"]["couchdb"]["error"]
        assert httpx.get(f"{http.url}/readyz", timeout=30).status_code == 503
        server = EmbeddedServer(tmp_path, port=port).start()
        assert wait_until(lambda: httpx.get(f"{http.url}/healthz", timeout=30).status_code == 200)
        assert httpx.get(f"{http.url}/nope", timeout=5).status_code == 404
    finally:
        watcher.stop()
        thread.join(30)
        http.stop()
        server.stop()


def test_readyz_waits_for_the_first_sweep(couch_url):
    watcher = Watcher(Couch(couch_url), Config(Couch(couch_url)), FAST)
    http = EngineHttp(watcher).start()
    try:
        not_yet = httpx.get(f"{http.url}/readyz", timeout=10)
        assert not_yet.status_code == 503
        assert not_yet.json()["checks"]["first_sweep"]["ok"] is False
        assert httpx.get(f"{http.url}/healthz", timeout=10).status_code == 200
    finally:
        http.stop()


@pytest.mark.parametrize("given,expected", [("127.0.0.1:9464", ("127.0.0.1", 9464)),
                                            (":9464", ("127.0.0.1", 9464)),
                                            ("[::1]:9464", ("::1", 9464))])
def test_http_address(given, expected):
    assert parse_address(given) == expected


def test_http_address_refused():
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address("9464x")
