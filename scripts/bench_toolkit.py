#!/usr/bin/env python3
"""Toolkit benchmark (issue: the operator's number toolkit). Prints ratios measured in this run.

    list       `number list --format csv` of every number (100k over 100 number databases,
               in pages of 1,000 through `numbers/status`), against the baseline: a raw
               `_all_docs?include_docs=true` read of the same databases, one request each,
               nothing formatted. ratio = baseline time / list time (1.0: as fast as a scan).
    selective  `number list --account A` for one account holding 1% of the numbers, against
               the same full scan: what reading through a view saves.
    memory     peak RSS growth while listing all of them (rows are streamed, not held).

Runs on the embedded server unless KZCARRIER_BENCH_COUCH_URL names a CouchDB.
Usage: .venv/bin/python scripts/bench_toolkit.py [--quick]   (--quick: 10k numbers)
"""
from __future__ import annotations

import os
import resource
import sys
import time

from kzcarrier.app import App, Settings
from kzcarrier.couch.embedded import url_or_embedded
from kzcarrier.toolkit import listing
from kzcarrier.toolkit.scan import Selection

OWNERS = [f"{i:032x}" for i in range(100)]


def seed(app: App, total: int, dbs: int = 100) -> list[str]:
    names = []
    per_db = total // dbs
    for d in range(dbs):
        prefix = f"+1{200 + d}"
        db = f"numbers/{prefix}"
        app.couch.delete_db(db)
        app.couch.create_db(db)
        app.couch.install_design_docs(db)
        docs = [{"_id": f"{prefix}55{i:05d}", "pvt_type": "number", "pvt_state": "in_service",
                 "pvt_module_name": "knm_local", "pvt_assigned_to": OWNERS[i % len(OWNERS)],
                 "pvt_created": 63900000000, "pvt_modified": 63900000000,
                 "pvt_features": {"local": {}}} for i in range(per_db)]
        for start in range(0, len(docs), 2000):
            app.couch.bulk_save(db, docs[start:start + 2000])
        names.append(db)
    # bring the views up to date once, as a live cluster's would be
    for db in names:
        app.couch.view(db, "numbers", "status", limit=1)
        app.couch.view(db, "numbers", "assigned_to", limit=1)
    return names


def timed(fn):
    began = time.perf_counter()
    out = fn()
    return time.perf_counter() - began, out


def scan_all(app: App, dbs: list[str]) -> int:
    return sum(1 for db in dbs for row in app.couch.all_docs(db)
               if not row["id"].startswith("_design/"))


def list_csv(app: App, selection: Selection) -> int:
    with open(os.devnull, "w") as out:      # a file, as `number export -o` writes
        return listing.write(out, listing.rows(app.couch, app.config, selection), "csv")


def main() -> None:
    total = 10_000 if "--quick" in sys.argv else 100_000
    with url_or_embedded(os.environ.get("KZCARRIER_BENCH_COUCH_URL")) as url:
        app = App(Settings(couch_url=url))
        print(f"server: {app.couch.profile.vendor} {app.couch.profile.version}")
        seeded, dbs = timed(lambda: seed(app, total))
        print(f"seeded {total} numbers in {len(dbs)} databases in {seeded:.1f} s")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        base, scanned = timed(lambda: scan_all(app, dbs))
        rss_scan = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        listed_s, listed = timed(lambda: list_csv(app, Selection()))
        rss_list = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        one_s, one = timed(lambda: list_csv(app, Selection(accounts=(OWNERS[7],))))
        assert scanned == listed == total, (scanned, listed)
        print(f"baseline   raw _all_docs of {scanned} docs: {base:.2f} s "
              f"(peak RSS +{(rss_scan - rss_before) / 1024:.0f} MB)")
        print(f"list       {listed} rows as CSV: {listed_s:.2f} s, ratio {base / listed_s:.2f} "
              f"(1.0 = as fast as the scan)")
        print(f"selective  one account's {one} rows: {one_s:.2f} s, "
              f"{base / one_s:.1f}x faster than the scan")
        print(f"memory     listing all: peak RSS grew {max(0, rss_list - rss_scan) / 1024:.0f} "
              f"MB beyond the scan's peak")


if __name__ == "__main__":
    main()
