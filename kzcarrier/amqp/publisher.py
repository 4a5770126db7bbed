"""Drain the outbox to the broker (pika): `configuration` exchange, KAZOO's routing keys
and body, `application/json`, Gregorian-microsecond timestamps. A broker that is away is
tried again every `retry_s`; nothing is lost meanwhile (the outbox keeps it)."""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pika

from ..logs import Scrubber
from ..model.document import GREGORIAN_UNIX_OFFSET
from .messages import EXCHANGE, doc_update
from .outbox import Outbox

log = logging.getLogger("kzcarrier.amqp")
# pika logs every refused connection as an error with a traceback; one warning here says it
logging.getLogger("pika").setLevel(logging.CRITICAL)


def redact(url: str) -> str:
    params = pika.URLParameters(url)
    password = getattr(params.credentials, "password", None)
    return url.replace(password, "********") if password else url


class Publisher:
    def __init__(self, outbox: Outbox, url: str, retry_s: float = 1.0):
        self.outbox = outbox
        self.url = url
        params = pika.URLParameters(url)
        Scrubber.add(getattr(params.credentials, "password", None))
        self.retry_s = retry_s
        self.published = 0
        self.failures = 0
        self._conn: Any = None
        self._channel: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _open(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            params = pika.URLParameters(self.url)
            params.connection_attempts, params.socket_timeout = 1, 5
            self._conn = pika.BlockingConnection(params)
            self._channel = self._conn.channel()
            self._channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=False,
                                           auto_delete=False, internal=False)
        return self._channel

    def close(self) -> None:
        try:
            if self._conn is not None and self._conn.is_open:
                self._conn.close()
        except Exception:  # closing a dead connection: nothing left to do
            pass
        self._conn = self._channel = None

    def drain(self) -> int:
        """Send what the outbox holds; returns how many went out. Raises on a broker
        that cannot be reached (the rest stays for the next try)."""
        sent = 0
        while True:
            entries = self.outbox.pending()
            if not entries:
                return sent
            channel = self._open()
            done = []
            for entry in entries:
                key, body = doc_update(entry["action"], entry["db"], entry.get("doc") or {},
                                       entry["id"], entry["rev"])
                channel.basic_publish(EXCHANGE, key, json.dumps(body).encode(),
                                      pika.BasicProperties(
                                          content_type="application/json",
                                          timestamp=int((time.time() + GREGORIAN_UNIX_OFFSET)
                                                        * 1_000_000)))
                done.append(entry)
            self.outbox.done(done)
            sent += len(done)
            self.published += len(done)

    def drain_quietly(self) -> int:
        try:
            return self.drain()
        except Exception as exc:   # broker away or connection lost: try again later
            self.failures += 1
            log.warning("announcements wait for the broker (%s): %s", redact(self.url),
                        type(exc).__name__)
            self.close()
            return 0

    def run(self, interval: float = 0.2) -> None:
        """Until `stop()`: drain, wait, again (longer after a failure)."""
        while not self._stop.is_set():
            before = self.failures
            self.drain_quietly()
            self._stop.wait(self.retry_s if self.failures > before else interval)
        self.drain_quietly()
        self.close()

    def start(self) -> "Publisher":
        self._thread = threading.Thread(target=self.run, daemon=True, name="kzc-amqp")
        self._thread.start()
        return self

    def stop(self, wait: float = 5.0) -> None:
        """Stop after one last drain (bounded by `wait`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)
