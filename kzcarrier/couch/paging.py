"""Reading a view or `_all_docs` in pages, so that 100k rows never sit in memory at once
and no single request asks the server for a whole database.

Pages follow the key (the next page starts at the last key read, skipping that row), which
costs the same on page 1,000 as on page 1, where KAZOO's `skip` grows with the offset. That
needs unique keys: every view paged here emits the document id inside its key
(`numbers/status` emits `[state, module, id]`, `numbers/assigned_to` `[account, id]`).
"""
from __future__ import annotations

from typing import Any, Iterator

from .client import Couch

PAGE = 1000


def iter_view(couch: Couch, db: str, ddoc: str, view: str, start_key: Any = None,
              end_key: Any = None, page: int = PAGE, include_docs: bool = True,
              ) -> Iterator[dict[str, Any]]:
    """Rows of `ddoc/view` from `start_key` to `end_key` (inclusive), `page` at a time."""
    params: dict[str, Any] = {"include_docs": include_docs, "limit": page, "reduce": False}
    if end_key is not None:
        params["end_key"] = end_key
    skip = 0
    while True:
        rows = couch.view(db, ddoc, view, start_key=start_key, skip=skip or None, **params)
        yield from rows
        if len(rows) < page:
            return
        start_key, skip = rows[-1]["key"], 1


def iter_all_docs(couch: Couch, db: str, start_key: str | None = None,
                  end_key: str | None = None, page: int = PAGE,
                  ) -> Iterator[dict[str, Any]]:
    """Documents of `db` by id from `start_key` to `end_key`, design documents left out."""
    skip = 0
    while True:
        rows = couch.all_docs(db, start_key=start_key, end_key=end_key, limit=page,
                              skip=skip or None)
        for row in rows:
            if not row["id"].startswith("_design/") and row.get("doc") is not None:
                yield row["doc"]
        if len(rows) < page:
            return
        start_key, skip = rows[-1]["id"], 1
