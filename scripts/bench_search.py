#!/usr/bin/env python3
"""Search benchmark (issue: HTTP carriers and search). Prints ratios measured in this run.

    fan-out  5 simulated Telnyx APIs, each answering in 300 ms: the search's time divided by
             the slowest carrier's own time (target <= 1.5)
    hung     the same with one carrier hung: the search returns after its timeout
             (number_search_timeout_ms) with the other four's results

Runs on the embedded server (or KZCARRIER_BENCH_COUCH_URL).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from kzcarrier.app import App, Settings
from kzcarrier.carriers import CarrierContext
from kzcarrier.carriers.telnyx import Telnyx
from kzcarrier.couch.embedded import EmbeddedServer
from kzcarrier.search import Search
from kzcarrier.simulators.telnyx import TelnyxSimulator


def carrier(app: App, sim: TelnyxSimulator, name: str) -> Telnyx:
    c = Telnyx(CarrierContext(couch=app.couch, config=app.config))
    c.name = name
    conf = {"api_url": f"{sim.url}/origination", "user": sim.user, "token": sim.token,
            "timeout_ms": 20000}
    c.configuration = lambda: conf  # type: ignore[method-assign]
    return c


def main() -> None:
    url = os.environ.get("KZCARRIER_BENCH_COUCH_URL")
    server = None if url else EmbeddedServer(Path(tempfile.mkdtemp()), in_memory=True).start()
    sims = [TelnyxSimulator(seed=i).start() for i in range(5)]
    try:
        app = App(Settings(couch_url=url or server.url))
        app.config.set("number_manager", "number_search_timeout_ms", 1500)
        for sim in sims:
            sim.faults.latency = 0.3
        carriers = {f"knm_telnyx_{i}": carrier(app, s, f"knm_telnyx_{i}")
                    for i, s in enumerate(sims)}
        slowest = 0.0
        for c in carriers.values():
            t0 = time.perf_counter()
            c.find_numbers("+1301", 20, {})
            slowest = max(slowest, time.perf_counter() - t0)
        search = Search(app.couch, app.config)
        t0 = time.perf_counter()
        result = search.find_with(carriers, "301", quantity=100)
        took = time.perf_counter() - t0
        print(f"fan-out: 5 carriers at 300 ms: search {took * 1000:.0f} ms, slowest carrier "
              f"alone {slowest * 1000:.0f} ms, ratio {took / slowest:.2f} (target <= 1.5); "
              f"{result.total} numbers")
        sims[4].faults.hang = 30
        t0 = time.perf_counter()
        result = search.find_with(carriers, "301", quantity=100)
        took = time.perf_counter() - t0
        answered = sorted({o["carrier"] for e in result.numbers for o in e["offers"]})
        print(f"hung: one carrier hung: search {took * 1000:.0f} ms against a 1500 ms timeout "
              f"(ratio {took / 1.5:.2f}); answered {len(answered)} carriers, timed out "
              f"{result.timed_out}")
    finally:
        for sim in sims:
            sim.faults.hang = 0
            sim.stop()
        if server:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
