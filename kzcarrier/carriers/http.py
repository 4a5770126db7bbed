"""What every HTTP carrier shares: an httpx client with TLS verification on, KAZOO's
provisioning flags, and one mapping from HTTP outcomes to kzcarrier errors (timeouts,
5xx and 429 are transient, with Retry-After kept; other refusals are permanent; an answer
that cannot be parsed is transient, because the order may or may not have happened).

Whether a failed call certainly did nothing matters to exactly-once: a refused connection,
a 429 (rate limited) and a 503 (not served) prove it, so the call may be repeated without
an order lookup (`ByCarrier.nothing_done`); a timeout, a 500/502/504 or a garbled answer
do not."""
from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from ..errors import ByCarrier, Unspecified
from . import Carrier

log = logging.getLogger("kzcarrier.carriers")
USER_AGENT = "kzcarrier number manager"
REASONS = {400: "bad_request", 401: "unauthenticated", 403: "unauthorized", 404: "not_found"}


class HttpCarrier(Carrier):
    url_key = "api_url"
    default_url = ""
    sandbox_default = False

    def base_url(self) -> str:
        return str(self.configuration().get(self.url_key) or self.default_url).rstrip("/")

    def timeout_s(self) -> float:
        return float(self.configuration().get("timeout_ms") or 30000) / 1000

    def longest_call_s(self) -> float:
        return self.timeout_s()

    def client(self) -> httpx.Client:
        timeout = self.timeout_s()
        return self.ctx.http(timeout=timeout, verify=True,
                             headers={"User-Agent": USER_AGENT})

    def provisioning_allowed(self, pn: Any) -> bool:
        """KAZOO's flags: with provisioning disabled, a sandbox returns the number untouched
        (False), anything else is refused."""
        cfg = self.configuration()
        if cfg.get("enable_provisioning", True):
            return True
        if cfg.get("sandbox_provisioning", self.sandbox_default):
            return False
        raise Unspecified("provisioning_disabled", pn.number)

    def request(self, method: str, path: str, number: str | None = None,
                **kwargs: Any) -> Any:
        """Send, and return the parsed JSON body of a 2xx answer; raise ByCarrier else."""
        resp = self.send(method, path, number, **kwargs)
        try:
            return resp.json() if resp.content else {}
        except (ValueError, json.JSONDecodeError) as exc:
            raise ByCarrier(number, self.name, "malformed answer from the carrier",
                            transient=True) from exc

    def release(self, method: str, path: str, number: str, **kwargs: Any) -> None:
        """A release request: the carrier not knowing the number means it is released."""
        try:
            self.request(method, path, number, **kwargs)
        except ByCarrier as exc:
            if not exc.reason.startswith("not_found"):
                raise

    def send(self, method: str, path: str, number: str | None = None,
             **kwargs: Any) -> httpx.Response:
        """Send; a 2xx answer is returned, anything else raised as ByCarrier."""
        base = self.base_url()
        url = f"{base}/{path.lstrip('/')}" if path else base
        try:
            with self.client() as http:
                resp = http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise ByCarrier(number, self.name, f"timeout: {type(exc).__name__}",
                            transient=True) from exc
        except httpx.ConnectError as exc:   # never reached the carrier
            raise ByCarrier(number, self.name, f"connection failed: {type(exc).__name__}",
                            transient=True, nothing_done=True) from exc
        except httpx.HTTPError as exc:
            raise ByCarrier(number, self.name, f"connection failed: {type(exc).__name__}",
                            transient=True) from exc
        if self.configuration().get("debug"):
            log.info("%s %s %s -> %s", self.name, method, path, resp.status_code)
        if resp.status_code == 429 or resp.status_code >= 500:
            retry_after = _retry_after(resp.headers.get("Retry-After"))
            raise ByCarrier(number, self.name, f"{resp.status_code} {resp.reason_phrase}",
                            transient=True, retry_after=retry_after,
                            nothing_done=resp.status_code in (429, 503))
        if resp.status_code >= 300:
            reason = REASONS.get(resp.status_code, "empty_response")
            raise ByCarrier(number, self.name, f"{reason}: {_message(resp)}")
        return resp


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("message") or body.get("error") or body)[:200]
    except ValueError:
        text = resp.text
        start = text.find("<Description>")
        if start >= 0:  # an XML API's error description
            return text[start + 13:text.find("</Description>", start)][:200]
        return text[:200]
