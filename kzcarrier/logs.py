"""Logging for the engine and the CLI: readable lines by default, one JSON object per line
with `--log-format json`, and never a secret.

Secrets are scrubbed from every record on its way out, whoever logged it (kzcarrier, httpx,
the CouchDB client): the password of any URL's credentials, the values of secret-looking
query parameters and JSON/XML fields (`pass`, `password`, `token`, `api_key`, ...), and
every value registered with `Scrubber.add` (the configuration registers each carrier
credential it reads). Scrubbing is a last line of defence; kzcarrier's own lines are
written without secrets in the first place.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from typing import Any

MASK = "********"
_SECRET_NAMES = r"(?:pass|passwd|password|secret|token|api_key|apikey|developer_key|" \
                r"authorization)"
_PATTERNS = [
    # scheme://user:password@host
    (re.compile(r"(\w+://[^/\s:@]+:)([^@\s/]+)(@)"), r"\1" + MASK + r"\3"),
    # ?pass=...&  /  "password": "..."  /  <password>...</password>  /  Bearer ...
    (re.compile(r"((?<![\w-])[\w-]*" + _SECRET_NAMES + r"=)([^&\s\"']+)", re.I),
     r"\1" + MASK),
    (re.compile(r"(\"[\w-]*" + _SECRET_NAMES + r"\"\s*:\s*\")([^\"]+)(\")", re.I),
     r"\1" + MASK + r"\3"),
    (re.compile(r"(<([\w:]*" + _SECRET_NAMES + r")>)([^<]+)(</\2>)", re.I),
     r"\1" + MASK + r"\4"),
    (re.compile(r"((?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1" + MASK),
]


class Scrubber(logging.Filter):
    """A logging filter that rewrites each record's message with the secrets masked."""

    _lock = threading.Lock()
    _values: set[str] = set()

    @classmethod
    def add(cls, value: Any) -> None:
        """Never let `value` reach a log line (values shorter than 4 characters are too
        common to mask without garbling the line, and too short to be a credential)."""
        if isinstance(value, str) and len(value) >= 4:
            with cls._lock:
                cls._values.add(value)

    @classmethod
    def scrub(cls, text: str) -> str:
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        with cls._lock:
            values = sorted(cls._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.scrub(message), None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message; a message that is itself a
    JSON object (the engine's transition lines) is merged in as fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name}
        message = record.getMessage()
        fields = None
        if message.startswith("{"):
            try:
                fields = json.loads(message)
            except ValueError:
                fields = None
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["message"] = message
        if record.exc_text or record.exc_info:
            out["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(level: str = "INFO", fmt: str = "text", stream: Any = None) -> None:
    """Set up the root logger for a command (replacing earlier handlers)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(Scrubber())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    if root.level > logging.DEBUG:   # httpx announces every request at INFO
        logging.getLogger("httpx").setLevel(logging.WARNING)
