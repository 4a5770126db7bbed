"""`watch --http HOST:PORT`: what a monitoring system and an orchestrator ask the engine.

* `/metrics`: the watcher's Prometheus registry (`kzcarrier/metrics.py`).
* `/healthz`: 200 while CouchDB answers, 503 with the reason while it does not (the engine
  itself keeps running and retries; restarting it would not help, but an operator and an
  alert should know).
* `/readyz`: 200 once CouchDB answers and the first sweep has offered its work.

Bodies of the health endpoints are JSON: `{"status": "ok"|"unavailable", "checks": {...}}`.
Served on its own threads; nothing here writes to CouchDB. Off unless asked for.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..errors import StorageError
from .watcher import Watcher


def parse_address(value: str) -> tuple[str, int]:
    """`HOST:PORT` (or `:PORT` for loopback) as given to `--http`."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--http wants HOST:PORT, not {value!r}")
    return (host.strip("[]") or "127.0.0.1"), int(port)


class EngineHttp:
    def __init__(self, watcher: Watcher, host: str = "127.0.0.1", port: int = 0):
        self.watcher = watcher
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "EngineHttp":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="kzc-http")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def checks(self) -> dict[str, Any]:
        try:
            self.watcher.couch.server_info()
            couch: dict[str, Any] = {"ok": True}
        except StorageError as exc:
            couch = {"ok": False, "error": str(exc)}
        return {"couchdb": couch, "first_sweep": {"ok": self.watcher.ready.is_set()}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, server.watcher.metrics.render(),
                               server.watcher.metrics.content_type)
                elif path in ("/healthz", "/readyz"):
                    checks = server.checks()
                    wanted = ["couchdb"] + (["first_sweep"] if path == "/readyz" else [])
                    ok = all(checks[name]["ok"] for name in wanted)
                    body = {"status": "ok" if ok else "unavailable",
                            "checks": {name: checks[name] for name in wanted}}
                    self._send(200 if ok else 503, json.dumps(body).encode(),
                               "application/json")
                else:
                    self._send(404, b'{"error": "not_found"}', "application/json")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # scrapes are not news
                pass

        return Handler
