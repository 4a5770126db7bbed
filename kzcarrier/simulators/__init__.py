"""Carrier simulators: local HTTP servers that speak a carrier's API, for development, demos
(`kzcarrier simulate CARRIER --port N`) and tests. Each keeps an inventory it generates,
records every order and release it receives, refuses to sell a number twice, and has fault
switches (`Faults`): latency, hanging (a timeout for the client), 5xx, 429 with
Retry-After, malformed bodies, and a count of requests to spoil.

A simulator subclasses `Simulator` and maps (method, path) to handlers returning
(status, body, headers). Faults apply before the handler runs, except `garbage`, which
spoils the body of a successful answer (the handler's side effects still happen: the client
cannot tell whether the order went through, which is what order lookup is for).
"""
from __future__ import annotations

import json
import random
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import phonenumbers

from ..numbers import is_valid_for_country

Handler = Callable[["Request"], tuple[int, Any, dict[str, str]]]


@dataclass
class Faults:
    latency: float = 0.0          # seconds added to every answer
    hang: float = 0.0             # seconds to sleep before answering (client timeouts)
    status: int | None = None     # answer every request with this status (e.g. 503)
    retry_after: float | None = None  # with status 429: the Retry-After header
    garbage: bool = False         # a malformed body instead of the real one
    times: int | None = None      # apply status/hang/garbage to this many requests only
    slow: float = 0.0             # seconds added to a random share of answers...
    slow_share: float = 0.0       # ...this share (a carrier that is sometimes very slow)

    def consume(self) -> bool:
        """Whether this request is spoiled (and count it)."""
        if self.status is None and not self.hang and not self.garbage:
            return False
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Record:
    """What the simulator was asked to do."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)   # orders for numbers sold
    releases: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # feature provisioning that changed something (E911 registrations and removals, CNAM)
    features: list[dict[str, Any]] = field(default_factory=list)


class Simulator:
    name = "carrier"

    def __init__(self, seed: int = 1):
        self.faults = Faults()
        self.record = Record()
        self.sold: dict[str, dict[str, Any]] = {}
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @staticmethod
    def basic_auth_ok(req: Request, user: str, password: str) -> bool:
        import base64
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return req.headers.get("authorization") == f"Basic {token}"

    # --- to implement --------------------------------------------------------------------

    def route(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def content_type(self) -> str:
        return "application/json"

    def render(self, body: Any) -> bytes:
        return body if isinstance(body, bytes) else json.dumps(body).encode()

    def parse(self, raw: bytes, content_type: str) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    # --- serving -------------------------------------------------------------------------

    def handle(self, req: Request) -> tuple[int, bytes, dict[str, str]]:
        with self.lock:
            self.record.requests.append((req.method, req.path))
            spoiled = self.faults.consume()
            faults = Faults(**self.faults.__dict__)
        if faults.latency:
            time.sleep(faults.latency)
        if faults.slow_share and self.rng.random() < faults.slow_share:
            time.sleep(faults.slow)
        if spoiled and faults.hang:
            time.sleep(faults.hang)
        if spoiled and faults.status:
            headers = {}
            if faults.status == 429 and faults.retry_after is not None:
                headers["Retry-After"] = str(int(faults.retry_after) or 1)
            return faults.status, self.render({"error": "simulated fault"}), headers
        status, body, headers = self.route(req)
        if spoiled and faults.garbage:
            return status, b"<<not what you expected", headers
        return status, self.render(body), headers

    def start(self, port: int = 0, host: str = "127.0.0.1") -> "Simulator":
        sim = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                req = Request(self.command, parts.path, parse_qs(parts.query),
                              {k.lower(): v for k, v in self.headers.items()},
                              sim.parse(raw, self.headers.get("Content-Type", "")))
                try:
                    status, body, headers = sim.handle(req)
                except Exception as exc:  # a simulator bug shows as a 500, not a hang
                    status, body, headers = 500, str(exc).encode(), {}
                self.send_response(status)
                self.send_header("Content-Type", sim.content_type())
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.server = ThreadingHTTPServer((host, port), _Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True,
                         name=f"sim-{self.name}").start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class XmlSimulator(Simulator):
    """An API that speaks XML: requests parsed to elements (None when not XML), answers
    rendered from elements with an XML prolog."""

    xml_type = "text/xml"
    prolog = b'<?xml version="1.0"?>'

    def content_type(self) -> str:
        return self.xml_type

    def render(self, body: Any) -> bytes:
        if isinstance(body, bytes):
            return body
        return self.prolog + ET.tostring(body)

    def parse(self, raw: bytes, content_type: str) -> Any:
        try:
            return ET.fromstring(raw) if raw else None
        except ET.ParseError:
            return None


SCAN_LIMIT = 200_000   # candidates looked at for one answer: a prefix with none stops there


def national_size(digits: str) -> int:
    """How many digits (country code included) a number starting with `digits` has: the
    length of phonenumbers' example number for that country (12 when it knows none)."""
    for k in (1, 2, 3):
        region = phonenumbers.region_code_for_country_code(int(digits[:k] or 0))
        if region != "ZZ":
            example = phonenumbers.example_number(region)
            if example is not None:
                return k + len(str(example.national_number))
    return 12


def available_numbers(prefix: str, count: int, sold: dict[str, Any]) -> list[str]:
    """`count` valid E.164 numbers starting with `prefix` (NANP when it starts +1), not sold,
    in order. Valid as `numbers.is_valid_for_country` says (phonenumbers' judgement)."""
    digits = "".join(c for c in prefix if c.isdigit())
    international = prefix.startswith("+") and not prefix.startswith("+1")
    if not international and not digits.startswith("1"):
        digits = "1" + digits
    size = national_size(digits) if international else 11   # +1 NPA NXX XXXX
    stem = digits[:size]
    width = size - len(stem)
    start = 0
    if not international:   # jump over area codes and exchanges that start with 0 or 1
        free = ["0"] * width
        for pos in (1, 4):
            if pos >= len(stem):
                free[pos - len(stem)] = "2"
        start = int("".join(free) or "0")
    out: list[str] = []
    for i in range(start, min(10 ** width if width else 1, start + SCAN_LIMIT)):
        num = f"+{stem}{i:0{width}d}" if width else f"+{stem}"
        if num not in sold and is_valid_for_country(num):
            out.append(num)
        if len(out) >= count:
            break
    return out


def simulators() -> dict[str, type[Simulator]]:
    from .bandwidth2 import Bandwidth2Simulator
    from .other import OtherSimulator
    from .simwood import SimwoodSimulator
    from .telnyx import TelnyxSimulator
    from .vitelity import VitelitySimulator
    from .voip_innovations import VoipInnovationsSimulator
    from .voxbone import VoxboneSimulator

    return {"telnyx": TelnyxSimulator, "bandwidth2": Bandwidth2Simulator,
            "other": OtherSimulator, "vitelity": VitelitySimulator,
            "simwood": SimwoodSimulator, "voip_innovations": VoipInnovationsSimulator,
            "voxbone": VoxboneSimulator}
