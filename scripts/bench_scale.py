#!/usr/bin/env python3
"""Scale benchmark (issue: 10,000 number databases). Prints, for 1,000 and 10,000 number
databases on the same server, each figure and its growth ratio against the 1,000 figure:

    start-up     a live watcher started over the databases (10 numbers each) with 1,000
                 pending `move` requests in 100 of them: time to the first and to the last
                 completed request, and the requests it sent CouchDB meanwhile
    restart      a second watcher on the same databases (its snapshot and checkpoints
                 written) after a request was written while none ran: requests it sends
                 before it is ready and until that request is done, the time to it, and
                 the rows its feeds answered meanwhile (a feed read again from its start
                 would answer every document)
    idle         requests per minute to CouchDB with nothing to do (20 s measured, once the
                 burst's databases are no longer active and a sweep has looked at them)
    sweep        one recovery sweep with nothing pending: requests and time; the full sweep
                 (the backstop, every 10 minutes) at its first look (every database's
                 index) and then with nothing changed (`_dbs_info` alone), and the idle
                 rate with its share
    latency      one request written into a recently active database, write -> completed
                 (the median of 20), also in reads of one document by the server at that
                 moment (pouchdb-server slowed as its databases grew, 2 ms a read at
                 1,000 and 5 ms at 10,000, until server/dbnames.js), and five at once,
                 each into a database idle since start-up, spread over the list (their
                 median and the last)
    rss          the process's resident memory after all of it
    --once       `watch --once` over 1,000 requests written into 100 databases (after the
                 rest): time and requests (every feed is read to its end, twice)

The watcher follows `_db_updates`: CouchDB's (KZCARRIER_BENCH_COUCH_URL), or the embedded
server's own (server/dbupdates.js), which names a database at once. `--db-updates` puts
the tests' fault proxy in front of the embedded server to answer it as CouchDB does
(batched 0.5 s), and longpolls with their timeout. `--cold-poll` runs the watcher without
it (`watch --no-db-updates`): it looks at idle databases in turn, at a bounded rate, so an
idle database's first request waits longer as the count grows.

    soak         (--soak SECONDS [--dbs N] [--rate R], default 1,000 databases and five
                 requests a second) a live watcher under a steady trickle of requests:
                 RSS every 5 s and its slope in MB/hour after the first quarter of the
                 run, and once the trickle has touched every database (flat memory: a
                 slope near zero)

Each run ends with the issue's targets, each with its figure and PASS or MISS
(`bench_engine.py` runs both and prints them with its own).

Usage: .venv/bin/python scripts/bench_scale.py [--quick] [--db-updates | --cold-poll]
       (--quick: 100 and 1,000 databases)
       .venv/bin/python scripts/bench_scale.py --soak 600 [--dbs 10000] [--rate 5]
"""
from __future__ import annotations

import dataclasses
import math
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from verdicts import Verdicts

from kzcarrier.app import App, Settings
from kzcarrier.couch.embedded import url_or_embedded
from kzcarrier.engine import protocol
from kzcarrier.engine.watcher import Watcher, WatchSettings

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "0123456789abcdef0123456789abcdef"
PER_DB = 10
BUSY_DBS = 100
SETTINGS = WatchSettings(pool_size=32, idle_sleep_max=0.05,
                         db_updates="--cold-poll" not in sys.argv)


class Counting:
    """Counts the requests a Couch sends (every call goes through `_call_raw`), and the
    rows its databases' feeds answered (`changes`)."""

    def __init__(self, couch) -> None:
        self.count = self.rows = self.views = 0
        inner, changes = couch._call_raw, couch.changes

        def counted(what, *args, **kwargs):
            self.count += 1
            self.views += what.startswith("view ")
            return inner(what, *args, **kwargs)

        def rows(*args, **kwargs):
            page = changes(*args, **kwargs)
            self.rows += len(page.results)
            return page

        couch._call_raw, couch.changes = counted, rows


def prefix(i: int) -> str:
    """The i-th database's prefix: +1000 to +9999, then +0000 to +0999 (a tenth of 10,000:
    no number starts with 0, so their requests end failed, with KAZOO's error)."""
    return f"+{1000 + i:04d}" if i < 9000 else f"+0{i - 9000:03d}"


OTHER = "fedcba9876543210fedcba9876543210"     # a second account to move numbers into


def move_to(target: str = ACCOUNT, rid: str | None = None) -> dict:
    """A `move` request into `target` (its id `rid`, or a new one)."""
    return {"id": rid or uuid.uuid4().hex, "operation": "move",
            "options": {"assign_to": target}}


def seed(app: App, n_dbs: int) -> list[str]:
    dbs = [f"numbers/{prefix(i)}" for i in range(n_dbs)]

    def one(i_db: tuple[int, str]) -> None:
        i, db = i_db
        app.couch.create_db(db)
        docs = [{"_id": f"{prefix(i)}555{j:04d}", "pvt_type": "number",
                 "pvt_state": "available", "pvt_module_name": "knm_local",
                 "pvt_created": 63900000000, "pvt_modified": 63900000000}
                for j in range(PER_DB)]
        if i < BUSY_DBS:
            for doc in docs:
                doc["pvt_request"] = move_to()
        app.couch.bulk_save(db, docs)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, enumerate(dbs)))
    return dbs


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_request(app: App, db: str, num: str) -> str:
    """A `move` request written into `num`; its id."""
    rid = uuid.uuid4().hex
    target = ACCOUNT if rid[0] < "8" else OTHER

    def change(doc):
        doc["pvt_request"] = move_to(target, rid)
        return doc

    app.couch.update(db, num, change)
    return rid


def done(app: App, db: str, num: str, rid: str) -> bool:
    doc = app.couch.get(db, num)
    return not protocol.is_pending(doc) and (doc.get("pvt_request") or {}).get("id") == rid


def ended(watcher: Watcher) -> int:
    """Requests the (in-process) watcher has finished: watching them costs the server
    nothing, where reading a document every few ms would take a share of it, more than
    the cold poll's at 10,000 databases (it skewed the figures before)."""
    return watcher.counts.get("completed", 0) + watcher.counts.get("failed", 0)


def completions(watcher: Watcher, before: int, n: int, t0: float) -> list[float]:
    """Seconds since `t0` at which each of `n` more requests ended."""
    times: list[float] = []
    while len(times) < n:
        now = ended(watcher) - before
        times += [time.perf_counter() - t0] * (now - len(times))
        time.sleep(0.001)
    return times[:n]


def request_once(app: App, db: str, num: str, watcher: Watcher) -> float:
    before, t0 = ended(watcher), time.perf_counter()
    rid = write_request(app, db, num)
    took = completions(watcher, before, 1, t0)[0]
    assert done(app, db, num, rid)
    return took


@contextmanager
def served(url: str) -> Iterator[App]:
    """The app on `url`; with --db-updates, behind the tests' fault proxy answering
    `_db_updates` as CouchDB does (batched 0.5 s, CouchDB's `max_write_delay`), which the
    embedded server lacks: every request then goes through the proxy."""
    if "--db-updates" not in sys.argv:
        yield App(Settings(couch_url=url))
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from faultproxy import FaultProxy
    proxy = FaultProxy(url).start()
    proxy.db_updates_delay = 0.5
    proxy.longpoll_timeout = True
    try:
        app = App(Settings(couch_url=proxy.url))
        app.couch._profile = dataclasses.replace(app.couch.profile, longpoll_timeout=True)
        yield app
    finally:
        proxy.stop()


def measure(app: App, n_dbs: int) -> dict[str, float]:
    for db in app.couch.number_dbs():
        app.couch.delete_db(db)
    t0 = time.perf_counter()
    dbs = seed(app, n_dbs)
    print(f"  {n_dbs} databases, {n_dbs * PER_DB} numbers, {BUSY_DBS * PER_DB} pending "
          f"requests seeded in {time.perf_counter() - t0:.0f} s", flush=True)
    out: dict[str, float] = {}
    counter = Counting(app.couch)
    watcher = Watcher(app.couch, app.config, SETTINGS)
    total = BUSY_DBS * PER_DB
    t0 = time.perf_counter()
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    while watcher.counts.get("completed", 0) < 1:
        time.sleep(0.01)
    out["first request s"] = time.perf_counter() - t0
    while watcher.counts.get("completed", 0) + watcher.counts.get("failed", 0) < total:
        time.sleep(0.05)
    out["all 1k requests s"] = time.perf_counter() - t0
    out["start-up CouchDB requests"] = counter.count
    watcher.ready.wait(300)
    time.sleep(SETTINGS.hot_for + 2)    # the burst's databases are no longer "active"
    # and a sweep has looked at them since (it reads the databases that had requests, once:
    # work, not idle cost; at 10,000 databases behind the proxy it overlapped the window)
    swept = watcher._sweeps
    while watcher._sweeps < swept + 2:
        time.sleep(0.1)
    before = counter.count
    time.sleep(20)
    out["idle requests/min"] = (counter.count - before) * 3
    before, t0 = counter.count, time.perf_counter()
    watcher._sweep()
    out["sweep s"] = time.perf_counter() - t0
    out["sweep requests"] = counter.count - before
    # the full sweep, the backstop (every 10 minutes): its first look reads every
    # database's index; then one `_dbs_info` request per 100 databases says which changed
    for look in ("full sweep, first look", "full sweep"):
        before, views, t0 = counter.count, counter.views, time.perf_counter()
        watcher._next_full = 0.0
        watcher._sweep()
        out[f"{look} s"] = time.perf_counter() - t0
        out[f"{look} requests"] = counter.count - before
        out[f"{look} indexes read"] = counter.views - views
    out["idle/min with full sweeps"] = out["idle requests/min"] + out[
        "full sweep requests"] * 60 / SETTINGS.full_sweep_interval
    reads = []
    for j in range(20):      # the server's own pace now
        t0 = time.perf_counter()
        app.couch.get(dbs[j % n_dbs], f"{prefix(j % n_dbs)}5550000")
        reads.append(time.perf_counter() - t0)
    out["server read p50 ms"] = statistics.median(reads) * 1000
    hot = [request_once(app, dbs[0], f"{prefix(0)}555{j % PER_DB:04d}", watcher)
           for j in range(20)]
    out["latency hot db p50 ms"] = statistics.median(hot) * 1000
    out["latency hot / server read"] = statistics.median(hot) / statistics.median(reads)
    # five requests at once, each into a database idle until then, spread over the list:
    # named by `_db_updates`, or (--cold-poll) each waits for the cold poll's look at its
    # database, anywhere in its round
    idle = [n_dbs * k // 5 - 1 for k in range(1, 6)]
    before, t0 = ended(watcher), time.perf_counter()
    rids = {j: write_request(app, dbs[j], f"{prefix(j)}5550000") for j in idle}
    waits = completions(watcher, before, len(idle), t0)
    assert all(done(app, dbs[j], f"{prefix(j)}5550000", rid) for j, rid in rids.items())
    out["latency idle db p50 ms"] = statistics.median(waits) * 1000
    out["latency idle db max ms"] = max(waits) * 1000
    watcher.stop()
    thread.join(60)
    out["rss MB"] = rss_mb()
    again = Watcher(app.couch, app.config, SETTINGS)
    counter2 = Counting(again.couch)
    mid, t0 = n_dbs // 2, time.perf_counter()
    rid = write_request(app, dbs[mid], f"{prefix(mid)}5550001")     # while none runs
    thread = threading.Thread(target=again.run, daemon=True)
    thread.start()
    while not again.ready.is_set() or not ended(again):     # whichever comes first
        if again.ready.is_set() and "restart requests until ready" not in out:
            out["restart requests until ready"] = counter2.count
        if ended(again) and "restart: request written while down s" not in out:
            out["restart: request written while down s"] = time.perf_counter() - t0
        time.sleep(0.001)
    out.setdefault("restart requests until ready", counter2.count)
    out["restart feed rows read"] = counter2.rows     # ready, and that request done
    out.setdefault("restart: request written while down s", time.perf_counter() - t0)
    assert done(app, dbs[mid], f"{prefix(mid)}5550001", rid)
    out["restart requests until it is done"] = counter2.count
    again.stop()
    thread.join(60)
    # `watch --once` (a cron's run) over 1k requests in 100 databases: it reads every feed
    # to its end, twice (the second shows its own writes); before, a feed at its end was
    # read again at each pass while another had pages
    def with_requests(db: str) -> None:
        docs = list(app.couch.bulk_get(db, [f"{db[-5:]}555{j:04d}"
                                            for j in range(PER_DB)]).values())
        for doc in docs:
            doc["pvt_request"] = move_to()
        app.couch.bulk_save(db, docs)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(with_requests, dbs[n_dbs - BUSY_DBS:]))
    once = Watcher(app.couch, app.config, SETTINGS)
    counter3, t0 = Counting(once.couch), time.perf_counter()
    once.run(once=True)
    out["watch --once, 1k requests s"] = time.perf_counter() - t0
    out["watch --once requests"] = counter3.count
    assert ended(once) >= BUSY_DBS * PER_DB
    return out


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per hour."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return cov / var * 3600 if var else 0.0


def soak(app: App, n_dbs: int, seconds: float, rate: float) -> None:
    """A live watcher over `n_dbs` databases under a steady trickle of requests (`rate` a
    second, each into a database picked in turn): its RSS sampled every 5 s, and the
    slope after the first quarter (warm-up: the burst, first sweeps, caches filling) and
    once the trickle has touched every database (each keeps a little state: its
    checkpoint's revision, its fingerprint for the full sweep) and the first full sweep
    has read every database, over the last third of the run at least. A full sweep every
    2 minutes, not 10: the first reads every database, the next ones ask `_dbs_info`, all
    within the run."""
    for db in app.couch.number_dbs():
        app.couch.delete_db(db)
    dbs = seed(app, n_dbs)
    watcher = Watcher(app.couch, app.config,
                      dataclasses.replace(SETTINGS, full_sweep_interval=120.0))
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    watcher.ready.wait(600)
    samples: list[tuple[float, float]] = []
    counter = Counting(app.couch)       # the watcher's requests, and the trickle's own
    t0 = time.monotonic()
    i = written = 0
    every_db_at = None      # when the trickle had touched every database
    looked_at = None        # when the first full sweep (its first look) had ended
    behind_at: list[str] = []   # requests written and not finished yet, now and then
    while time.monotonic() - t0 < seconds:
        db = dbs[(i * 7919) % n_dbs]
        num = f"{db.split('/')[1]}555{(i // n_dbs) % PER_DB:04d}"
        target = ACCOUNT if i % 2 else OTHER
        rid = uuid.uuid4().hex

        def change(doc, rid=rid, target=target):
            if protocol.is_pending(doc):
                return None       # its last request is not finished: the next one
            doc["pvt_request"] = move_to(target, rid)
            return doc

        if app.couch.update(db, num, change) is not None:
            written += 1
        i += 1
        if i == n_dbs:
            every_db_at = time.monotonic() - t0
        if looked_at is None and watcher._full_sweeps >= 2:
            looked_at = time.monotonic() - t0
        if not samples or time.monotonic() - t0 - samples[-1][0] >= 5:
            samples.append((time.monotonic() - t0, rss_mb()))
            if len(samples) % 60 == 0:     # every 5 minutes: how far behind the engine is
                behind_at.append(f"{samples[-1][0]:.0f} s: "
                                 f"{written + BUSY_DBS * PER_DB - ended(watcher)}")
        time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
    watcher.stop()
    thread.join(60)
    steady = [s for s in samples if s[0] >= seconds / 4]
    print(f"soak: {n_dbs} databases, {seconds:.0f} s, {written} requests written, "
          f"outcomes {dict(sorted(watcher.counts.items()))} (with the start-up burst's "
          f"{BUSY_DBS * PER_DB}): {written + BUSY_DBS * PER_DB - ended(watcher)} not finished at "
          f"the end (behind: {behind_at}), {watcher._full_sweeps} full sweeps; "
          f"{counter.count / seconds:.0f} requests a second to the server (the trickle's "
          f"two each included)")
    print(f"    rss MB at start {samples[0][1]:.1f}, after warm-up {steady[0][1]:.1f}, "
          f"at end {samples[-1][1]:.1f}, peak {max(m for _, m in samples):.1f}")
    print(f"    rss slope after warm-up {slope_per_hour(steady):+.1f} MB/hour "
          f"({len(steady)} samples; a one-hour soak: --soak 3600)")
    settled = every_db_at is not None and looked_at is not None
    late_from = max(seconds * 2 / 3, every_db_at or 0, looked_at or 0)
    late = [s for s in samples if s[0] >= late_from]
    touched = (f"every database touched at {every_db_at:.0f} s, the first full sweep "
               f"ended at {looked_at:.0f} s" if settled else
               f"{i} of {n_dbs} databases touched, {watcher._full_sweeps} full sweeps: "
               "too short a run")
    print(f"    rss slope from {late_from:.0f} s {slope_per_hour(late):+.1f} MB/hour "
          f"({len(late)} samples; {touched}: flat from then)")
    peak = max(m for _, m in samples)
    verdicts = Verdicts()
    verdicts.add(f"soak: RSS <= 200 MB ({n_dbs:,} databases, peak)", peak, peak <= 200,
                 " MB")
    verdicts.add("soak: RSS slope, every database touched, <= 5 MB/h"
                 + ("" if settled else ": not reached"),
                 slope_per_hour(late), settled and slope_per_hour(late) <= 5, " MB/hour")
    verdicts.print()


def main() -> None:
    url = os.environ.get("KZCARRIER_BENCH_COUCH_URL")
    if "--soak" in sys.argv:
        seconds = float(sys.argv[sys.argv.index("--soak") + 1])
        n_dbs = int(sys.argv[sys.argv.index("--dbs") + 1]) if "--dbs" in sys.argv else 1000
        rate = float(sys.argv[sys.argv.index("--rate") + 1]) if "--rate" in sys.argv else 5.0
        with url_or_embedded(url) as server_url, served(server_url) as app:
            soak(app, n_dbs, seconds, rate)
        return
    sizes = (100, 1000) if "--quick" in sys.argv else (1000, 10000)
    results = []
    for n in sizes:
        with url_or_embedded(url) as server_url, served(server_url) as app:
            print(f"{n} databases:", flush=True)   # a fresh embedded server per size
            results.append(measure(app, n))
            for key, value in results[-1].items():
                print(f"    {key:<36}{value:>10.1f}", flush=True)
    base, big = results
    print(f"\n{'figure':<36}{sizes[0]:>12}{sizes[1]:>12}{'growth':>9}")
    for key in base:
        ratio = big[key] / base[key] if base[key] else float("nan")
        print(f"{key:<36}{base[key]:>12.1f}{big[key]:>12.1f}{ratio:>8.1f}x")
    scale_verdicts(sizes, base, big)


def scale_verdicts(sizes: tuple[int, int], base: dict[str, float],
                   big: dict[str, float]) -> None:
    """The issue's targets at the larger count, and the costs that must not grow with it
    (grow: at most 1.5x from the smaller count to the larger)."""
    at = f"{sizes[1]:,} databases"
    v = Verdicts()

    def flat(target: str, key: str, unit: str, met: bool | None = None) -> None:
        ratio = big[key] / base[key] if base[key] else (1.0 if not big[key] else math.inf)
        v.add(target, f"{base[key]:.0f} -> {big[key]:.0f}{unit} ({ratio:.2f}x)",
              ratio <= 1.5 if met is None else met)

    v.add(f"first of 1k requests <= 15 s ({at})", big["first request s"],
          big["first request s"] <= 15, " s")
    v.add(f"all 1k requests <= 60 s ({at})", big["all 1k requests s"],
          big["all 1k requests s"] <= 60, " s")
    flat("idle requests a minute flat with the count (full sweeps in)",
         "idle/min with full sweeps", "/min")
    v.add(f"RSS <= 200 MB ({at})", big["rss MB"], big["rss MB"] <= 200, " MB")
    flat("sweep with nothing pending flat with the count", "sweep requests", " requests")
    # (a database written since the first look is read again)
    v.add(f"full sweep, nothing changed: indexes read <= 1% ({at})",
          f"{big['full sweep requests']:.0f} requests, "
          f"{big['full sweep indexes read']:.0f} indexes",
          big["full sweep indexes read"] <= sizes[1] / 100)
    hot = "latency hot db p50 ms"
    flat("active-database latency p50 <= 50 ms, or flat", hot, " ms",
         big[hot] <= max(50.0, 1.5 * base[hot]))
    v.add(f"idle-database request <= 250 ms (median of 5, {at})",
          big["latency idle db p50 ms"], big["latency idle db p50 ms"] <= 250, " ms")
    rows, docs = big["restart feed rows read"], sizes[1] * PER_DB
    v.add(f"restart re-reads no feed: rows < 1% of {docs:,} documents",
          f"{rows:.0f} rows", rows < docs / 100)
    v.print()


if __name__ == "__main__":
    main()
