"""What an operator watches: the engine's Prometheus metrics, in one registry per engine.

The processor counts requests and times carrier calls, the watcher sets the gauges it knows
(backlog, claims, retries waiting, feed lag, workers), and `engine/http.py` serves the
registry on `/metrics`. One `Metrics` object per watcher keeps tests and several engines in
one process apart; nothing here is a module global.
"""
from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Carrier calls go from milliseconds (a DB-only carrier) to minutes (Bandwidth's order wait).
CARRIER_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 300)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "kzcarrier_requests", "Requests that reached an outcome, by operation, status "
            "(completed, failed, dry_run, retry) and carrier module.",
            ["operation", "status", "carrier"], registry=r)
        self.request_seconds = Histogram(
            "kzcarrier_request_duration_seconds", "Time from claim to outcome of one request.",
            ["operation"], buckets=REQUEST_BUCKETS, registry=r)
        self.carrier_seconds = Histogram(
            "kzcarrier_carrier_call_duration_seconds", "Carrier calls (acquire, disconnect, "
            "order lookup), answered or not.", ["carrier", "action"],
            buckets=CARRIER_BUCKETS, registry=r)
        self.carrier_errors = Counter(
            "kzcarrier_carrier_errors", "Carrier calls that failed, by KAZOO error name.",
            ["carrier", "action", "error"], registry=r)
        self.backlog = Gauge(
            "kzcarrier_backlog", "Unfinished requests per number database (last sweep).",
            ["database"], registry=r)
        self.oldest_pending = Gauge(
            "kzcarrier_oldest_pending_age_seconds", "Age of the oldest unfinished request per "
            "number database (last sweep).", ["database"], registry=r)
        self.retries_waiting = Gauge(
            "kzcarrier_retries_waiting", "Requests waiting for their next attempt (last sweep).",
            registry=r)
        self.claims_held = Gauge(
            "kzcarrier_claims_held", "Requests this worker is working on now.", registry=r)
        self.feed_lag = Gauge(
            "kzcarrier_feed_lag_changes", "Changes read from a database's feed whose requests "
            "are not finished yet (the checkpoint trails them).", ["database"], registry=r)
        self.workers_alive = Gauge(
            "kzcarrier_workers_alive", "Workers with a fresh heartbeat, this one included.",
            registry=r)
        self.heartbeat = Gauge(
            "kzcarrier_last_heartbeat_timestamp_seconds", "Unix time of this worker's last "
            "heartbeat written to CouchDB.", registry=r)
        self.sweeps = Counter("kzcarrier_sweeps", "Sweeps of the request index.", registry=r)
        self.ready = Gauge("kzcarrier_ready", "1 once the first sweep has offered its work.",
                           registry=r)

    def request_done(self, operation: str | None, status: str, carrier: str | None,
                     seconds: float | None = None) -> None:
        self.requests.labels(operation or "unknown", status, carrier or "none").inc()
        if seconds is not None:
            self.request_seconds.labels(operation or "unknown").observe(seconds)

    def carrier_call(self, carrier: str, action: str, seconds: float,
                     error: str | None = None) -> None:
        self.carrier_seconds.labels(carrier, action).observe(seconds)
        if error is not None:
            self.carrier_errors.labels(carrier, action, error).inc()

    def per_database(self, gauge: Gauge, db: str, value: float,
                     shown: bool | None = None) -> None:
        """A database's series while it has something to show (`shown`, by default a value
        other than 0); else it is removed, so the scrape (and memory) holds the databases
        with work, not every one ever swept (30,000 series of zeros at 10,000)."""
        if value if shown is None else shown:
            gauge.labels(db).set(value)
            return
        try:
            gauge.remove(db)
        except KeyError:    # never shown
            pass

    def track_claims(self, count: Callable[[], float]) -> None:
        self.claims_held.set_function(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
