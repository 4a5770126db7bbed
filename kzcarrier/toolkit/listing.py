"""`number list` and `number export`: a selection's numbers as rows (kt_numbers columns),
streamed page by page into a table, JSON or CSV, so that 100k numbers never sit in memory."""
from __future__ import annotations

import csv
import json
from typing import IO, Iterator

from ..couch.client import Couch
from ..couch.paging import iter_all_docs
from ..model.config import ACCOUNTS, NUMBER_MANAGER, Config
from .columns import COLUMNS, row_of
from .scan import Scan, Selection

FORMATS = ("table", "json", "csv")
TABLE = (("e164", 16), ("state", 11), ("carrier_module", 18), ("account_id", 34),
         ("used_by", 10))


def account_names(couch: Couch) -> dict[str, str]:
    if not couch.db_exists(ACCOUNTS, cached=True):
        return {}
    return {doc["_id"]: doc.get("name") or "" for doc in iter_all_docs(couch, ACCOUNTS)}


def rows(couch: Couch, config: Config, selection: Selection, limit: int | None = None,
         ) -> Iterator[dict[str, str]]:
    names = account_names(couch)
    force = bool(config.get(NUMBER_MANAGER, "default_force_outbound", False))
    for count, doc in enumerate(Scan(couch, selection).docs()):
        if limit is not None and count >= limit:
            return
        yield row_of(doc, names, force)


def write(out: IO[str], items: Iterator[dict[str, str]], fmt: str) -> int:
    """Stream `items` to `out` in `fmt`; returns how many were written."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS), extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        for count, row in enumerate(items, 1):
            writer.writerow(row)
        return count
    if fmt == "json":
        out.write("[")
        for count, row in enumerate(items, 1):
            out.write(("\n" if count == 1 else ",\n") + json.dumps(row, sort_keys=True))
        out.write("\n]\n" if count else "]\n")
        return count
    out.write("  ".join(f"{name:<{width}}" for name, width in TABLE).rstrip() + "\n")
    for count, row in enumerate(items, 1):
        out.write("  ".join(f"{row[name] or '-':<{width}}" for name, width in TABLE).rstrip()
                  + "\n")
    return count


