"""Shared helpers for the engine tests: writing requests and running watchers."""
from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from kzcarrier.couch.client import Couch
from kzcarrier.engine.watcher import Watcher, WatchSettings

MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))
PLUGINS = Path(__file__).resolve().parent / "plugins"
FAST = WatchSettings(pool_size=16, sweep_interval=0.5, db_poll_interval=0.5,
                     heartbeat_interval=0.5, steal_after=1.0, idle_sleep_max=0.05,
                     full_sweep_interval=2.0)


def db_of(num: str) -> str:
    return f"numbers/{num[:5]}"


def acct_db(account: str) -> str:
    return f"account/{account[:2]}/{account[2:4]}/{account[4:]}"


def request(couch: Couch, num: str, operation: str, rid: str | None = None, **options):
    """Write `pvt_request` into the number's document (creating a placeholder if needed)."""
    rid = rid or uuid.uuid4().hex
    couch.ensure_db(db_of(num))

    def change(doc):
        doc = doc or {}
        doc["pvt_request"] = {"id": rid, "operation": operation, "options": options}
        return doc

    couch.update(db_of(num), num, change)
    return rid


def buy_then_release(app, carrier: str, prefix: str, quantity: int = 1):
    """Search `carrier` for `prefix`, `move` the first number found into CHILD through the
    engine, then `release` it. Returns (number, the move's request id, the document after
    the move, the document after the release)."""
    from kzcarrier.search import Search

    found = Search(app.couch, app.config).find(prefix, quantity=quantity, carriers=[carrier],
                                               store=True)
    num = found.numbers[0]["number"]
    rid = request(app.couch, num, "move", assign_to=CHILD)
    run_once(app.couch, app.config)
    bought = app.couch.get(db_of(num), num)
    request(app.couch, num, "release")
    run_once(app.couch, app.config)
    return num, rid, bought, last_revision(app.couch, num)


def last_revision(couch: Couch, num: str) -> dict | None:
    """The number's document as last written, a deletion's tombstone included."""
    return couch.last_revision(db_of(num), num)


def assert_released_for_good(app, num: str, released: dict, orders: list) -> None:
    """A number released at an external carrier is no longer the platform's: its document
    is deleted (the outcome kept in the tombstone), and taking it again without a new
    search finds nothing to take, so nothing is handed out unbought."""
    assert released.get("_deleted") and released["pvt_request_state"]["status"] == "completed"
    assert released["pvt_request_state"]["to_state"] == "deleted"
    before = len(orders)
    rid = request(app.couch, num, "move", assign_to=CHILD, auth_by=CHILD)
    run_once(app.couch, app.config)
    st = app.couch.get(db_of(num), num)["pvt_request_state"]
    assert (st["id"], st["status"], st["error"]["error"]) == (rid, "failed", "not_found")
    assert len(orders) == before


def tap_requests(couch: Couch, monkeypatch, each: Callable[[str, tuple], None]) -> None:
    """From now on, `each(what, args)` before every request `couch` sends (every call
    goes through `_call_raw`), in the thread that sends it."""
    original = couch._call_raw

    def tapped(what, fn, *args, **kwargs):
        each(what, args)
        return original(what, fn, *args, **kwargs)

    monkeypatch.setattr(couch, "_call_raw", tapped)


def count_requests(couch: Couch, monkeypatch) -> Counter:
    """From now on: how many requests `couch` sends, by what they are about."""
    seen: Counter = Counter()
    tap_requests(couch, monkeypatch, lambda what, args: seen.update([what]))
    return seen


def record_requests(couch: Couch, monkeypatch,
                    delay: Callable[[str], float] = lambda what: 0.0) -> list[tuple[str, str]]:
    """From now on, every request `couch` sends, in order: (the thread that sent it, what
    it is about); each waits `delay(what)` seconds first (a server slower at some)."""
    sent: list[tuple[str, str]] = []

    def record(what, args):
        sent.append((threading.current_thread().name, what))
        time.sleep(delay(what))

    tap_requests(couch, monkeypatch, record)
    return sent


def views_read(seen: Counter, view: str = "kzcarrier/") -> set[str]:
    """The databases whose request index (`_design/kzcarrier`), or another `view`, was
    read, of `seen`."""
    return {what.split(" of ", 1)[1] for what in seen if what.startswith(f"view {view}")}


def count_bulk_requests(couch: Couch, monkeypatch) -> list[tuple[str, int]]:
    """From now on, every `_bulk_docs` request `couch` sends: (database, documents)."""
    seen: list[tuple[str, int]] = []

    def count(what, args):
        if what.startswith("save "):
            seen.append((what.rsplit(" into ", 1)[1], len(args[1]["docs"])))

    tap_requests(couch, monkeypatch, count)
    return seen


def configure_bandwidth2(config, sim, **overrides) -> None:
    """`number_manager.bandwidth2` pointed at a Bandwidth simulator, orders polled fast."""
    values = {"api_url": f"{sim.url}/v1.0", "account_id": sim.account_id,
              "api_username": sim.user, "api_password": sim.password, "site_id": "1337",
              "sip_peer": "13337", "order_poll_ms": 20, "order_wait_s": 2,
              "timeout_ms": 2000, **overrides}
    for key, value in values.items():
        config.set("number_manager.bandwidth2", key, value)


def wait_until(predicate, timeout: float = 60.0, step: float = 0.1) -> bool:
    """Whether `predicate()` became true within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def run_once(couch: Couch, config, **kw) -> Watcher:
    w = Watcher(couch, config, FAST, **kw)
    assert w.run(once=True) == 0
    return w


class Background:
    """A watcher running in a thread until stopped."""

    def __init__(self, couch, config, worker_id=None, settings=FAST):
        self.watcher = Watcher(couch, config, settings, worker_id=worker_id)
        self.code = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        self.code = self.watcher.run()

    def __enter__(self):
        self.thread.start()
        return self.watcher

    def __exit__(self, *exc):
        self.watcher.stop()
        self.thread.join(30)
        assert not self.thread.is_alive()


@contextmanager
def db_updates_proxy(couch: Couch, delay: float) -> Iterator[tuple[object, Couch]]:
    """`couch` behind the fault proxy answering `_db_updates` as CouchDB does, batched
    `delay` seconds (the test server has none), and longpolls on `_changes` with their
    timeout: the proxy, and a Couch through it."""
    from faultproxy import FaultProxy

    proxy = FaultProxy(couch.url).start()
    try:
        proxy.db_updates_delay = delay
        proxy.longpoll_timeout = True
        via = Couch(proxy.url)
        via._profile = dataclasses.replace(couch.profile, longpoll_timeout=True)
        yield proxy, via
    finally:
        proxy.stop()
