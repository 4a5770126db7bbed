"""A small fault-injecting HTTP proxy in front of the test server, showing what a clustered
CouchDB (n=3) does and the embedded server cannot:

* `conflict_202`: share of per-document conflicts in `_bulk_docs` that a cluster would
  have accepted on another replica: the losing write is stored as a sibling revision
  (`new_edits=false`, a child of the revision it was written at) and answered
  `{"ok": true}` with HTTP 202 instead of a 409;
* `accept_202`: share of clean writes answered 202 (written, fewer replicas than asked);
* `drop_after_write`: share of writes whose answer is lost after the write happened (the
  connection closes); `drop_writes`: the next this many writes' answers are lost;
* `delay`: seconds added before every request;
* `db_updates_delay`: when set, the proxy answers `_db_updates` itself (the test server has
  none) from the writes that went through it, each visible only after that many seconds,
  as CouchDB's `_global_changes` batches them; seqs are opaque strings;
* `longpoll_timeout`: when set, a `_changes?feed=longpoll` answers at its first change or
  after its `timeout`, as CouchDB's does (the test server never answers an idle longpoll):
  the proxy reads the feed upstream every 20 ms meanwhile;
* `replicas`: when set, `POST /_dbs_info` answers as a cluster with that many copies of
  each database: each row from the copy that answered first (here each in turn, a worst
  case), its seqs opaque strings naming that copy (the same count on every copy in sync),
  `instance_start_time` "0".

Every spoiled answer is counted in `stats`. Writes and reads go through unchanged otherwise.
"""
from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import httpx

HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}


class FaultProxy:
    def __init__(self, upstream: str, seed: int = 7):
        self.upstream = upstream.rstrip("/")
        self.conflict_202 = 0.0
        self.accept_202 = 0.0
        self.drop_after_write = 0.0
        self.drop_writes = 0
        self.delay = 0.0
        self.db_updates_delay: float | None = None
        self.longpoll_timeout = False
        self.replicas = 0
        self._answering: Counter[str] = Counter()    # _dbs_info rows answered, per database
        self.stopped = False
        self._updates: list[tuple[int, str, str, float]] = []   # seq, db, type, visible at
        self.rng = random.Random(seed)
        self.stats: Counter[str] = Counter()
        self.seen: list[tuple[str, str]] = []     # (method, path with query) of every request
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=120)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FaultProxy":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _take_drop(self) -> bool:
        with self._lock:
            if self.drop_writes <= 0:
                return False
            self.drop_writes -= 1
            return True

    def _chance(self, share: float) -> bool:
        with self._lock:
            return share > 0 and self.rng.random() < share

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes,
                ) -> httpx.Response:
        return self._http.request(method, self.upstream + path, headers=headers,
                                  content=body or None)

    def longpoll(self, method: str, path: str, headers: dict[str, str], body: bytes,
                 ) -> httpx.Response:
        """A longpoll on `_changes` as CouchDB answers one: at the first change, or empty
        after `timeout` ms."""
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        wait = int(query.pop("timeout", ["60000"])[0]) / 1000
        query["feed"] = ["normal"]
        normal = parts.path + "?" + urlencode(query, doseq=True)
        deadline = time.monotonic() + wait
        while True:
            resp = self.forward(method, normal, headers, body)
            if resp.status_code != 200 or resp.json().get("results") or \
                    time.monotonic() >= deadline or self.stopped:
                return resp
            time.sleep(0.02)

    def bulk_docs(self, path: str, headers: dict[str, str], body: bytes,
                  ) -> tuple[int, bytes, str]:
        resp = self.forward("POST", path, headers, body)
        try:
            sent = json.loads(body)
            results = resp.json()
        except ValueError:
            return resp.status_code, resp.content, resp.headers.get("content-type", "")
        if resp.status_code not in (200, 201) or not isinstance(results, list) or \
                sent.get("new_edits") is False:
            return resp.status_code, resp.content, resp.headers.get("content-type", "")
        status = resp.status_code
        for i, result in enumerate(results):
            doc = sent["docs"][i] if i < len(sent.get("docs", [])) else None
            if doc and result.get("error") == "conflict" and self._chance(self.conflict_202):
                results[i] = self._sibling(path, headers, doc)
                status = 202
        if status != 202 and self._chance(self.accept_202):
            self.stats["accepted_202"] += 1
            status = 202
        return status, json.dumps(results).encode(), "application/json"

    def _sibling(self, path: str, headers: dict[str, str], doc: dict[str, Any],
                 ) -> dict[str, Any]:
        """Store `doc` as another replica would have: a child of the revision it was
        written at, beside the winner."""
        parent = doc.get("_rev")
        start = int(parent.split("-")[0]) + 1 if parent else 1
        new_hash = uuid.uuid4().hex
        ids = [new_hash] + ([parent.split("-", 1)[1]] if parent else [])
        body = {k: v for k, v in doc.items() if k != "_rev"}
        body.update(_rev=f"{start}-{new_hash}", _revisions={"start": start, "ids": ids})
        self.forward("POST", path, headers,
                     json.dumps({"docs": [body], "new_edits": False}).encode())
        self.stats["conflict_202"] += 1
        return {"id": doc["_id"], "ok": True, "rev": f"{start}-{new_hash}"}

    def dbs_info(self, headers: dict[str, str], body: bytes) -> httpx.Response:
        resp = self.forward("POST", "/_dbs_info", headers, body)
        if resp.status_code != 200:
            return resp
        rows = resp.json()
        for row in rows:
            info = row.get("info")
            if not info:
                continue
            with self._lock:
                copy = self._answering[row["key"]] % self.replicas
                self._answering[row["key"]] += 1
            instance = info.get("instance_start_time")
            for key in ("update_seq", "purge_seq"):
                count = int(str(info.get(key) or 0).split("-")[0])
                info[key] = f"{count}-g1AAAA{instance}n{copy}"
            info["instance_start_time"] = "0"
        return httpx.Response(200, json=rows)

    def record_update(self, method: str, path: str, status: int) -> None:
        parts = urlsplit(path).path
        name = unquote(parts.split("/")[1])
        if status >= 300 or not name or name.startswith("_") or "/_local/" in parts \
                or "/_view/" in parts:
            return      # CouchDB names a database only when its documents change
        kind = {("PUT", 2): "created", ("DELETE", 2): "deleted"}.get(
            (method, parts.rstrip("/").count("/") + 1), "updated")
        with self._lock:
            seq = len(self._updates) + 1
            self._updates.append((seq, name, kind, time.monotonic() + self.db_updates_delay))

    def db_updates(self, path: str) -> bytes:
        query = parse_qs(urlsplit(path).query)
        since_raw = query.get("since", ["0"])[0]
        with self._lock:
            since = len(self._updates) if since_raw == "now" else int(since_raw.split("-")[0])
        wait = int(query.get("timeout", ["60000"])[0]) / 1000 \
            if query.get("feed", ["normal"])[0] == "longpoll" else 0.0
        limit = int(query.get("limit", ["0"])[0]) or None
        deadline = time.monotonic() + wait
        while True:
            with self._lock:   # update `seq` is at index seq - 1: only the new are looked at
                now = time.monotonic()
                seen = [u for u in self._updates[since:] if u[3] <= now][:limit]
            if seen or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        results = [{"db_name": db, "type": kind, "seq": f"{seq}-g1AAAA"}
                   for seq, db, kind, _ in seen]
        last = results[-1]["seq"] if results else f"{since}-g1AAAA"
        return json.dumps({"results": results, "last_seq": last}).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True   # headers and body leave at once (no 40 ms ACK wait)

            def _any(self) -> None:
                proxy.seen.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                if proxy.delay:
                    time.sleep(proxy.delay)
                write = self.command in ("PUT", "POST", "DELETE") and \
                    not self.path.split("?")[0].endswith(("/_changes", "/_all_docs",
                                                           "/_bulk_get", "/_find"))
                try:
                    if proxy.db_updates_delay is not None and \
                            self.path.split("?")[0] == "/_db_updates":
                        status, content = 200, proxy.db_updates(self.path)
                        ctype = "application/json"
                    elif proxy.longpoll_timeout and "feed=longpoll" in self.path and \
                            self.path.split("?")[0].endswith("/_changes"):
                        resp = proxy.longpoll(self.command, self.path, headers, body)
                        status, content = resp.status_code, resp.content
                        ctype = resp.headers.get("content-type", "application/json")
                    elif proxy.replicas and self.command == "POST" and \
                            self.path.split("?")[0] == "/_dbs_info":
                        resp = proxy.dbs_info(headers, body)
                        status, content = resp.status_code, resp.content
                        ctype = "application/json"
                    elif self.command == "POST" and self.path.split("?")[0].endswith(
                            "/_bulk_docs"):
                        status, content, ctype = proxy.bulk_docs(self.path, headers, body)
                    else:
                        resp = proxy.forward(self.command, self.path, headers, body)
                        status, content = resp.status_code, resp.content
                        ctype = resp.headers.get("content-type", "application/json")
                except httpx.HTTPError:
                    self.close_connection = True
                    return
                if write and proxy.db_updates_delay is not None:
                    proxy.record_update(self.command, self.path, status)
                if write and (proxy._chance(proxy.drop_after_write) or proxy._take_drop()):
                    proxy.stats["dropped"] += 1
                    self.close_connection = True
                    return          # written, but the client never hears of it
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
