"""The SDK client each thread of a `Couch` uses: one configured client, copied per thread
with a requests session and connection pool of its own (requests sessions are not meant to
be shared across threads). Copying is what keeps a thread's first request cheap: the SDK's
constructor loads the CA bundle (17 ms of CPU, more than a dozen requests), and a watcher
starts dozens of threads (design_docs/storage.md)."""
from __future__ import annotations

import copy
import functools
import os
import ssl
from typing import Any

import requests
from ibm_cloud_sdk_core.authenticators import BasicAuthenticator, NoAuthAuthenticator
from ibmcloudant.cloudant_v1 import CloudantV1
from requests import certs
from requests.adapters import DEFAULT_POOLBLOCK, HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry
from urllib3.util.ssl_ import create_urllib3_context


class _Resend(Retry):
    """A server (or a proxy) closes a keep-alive connection it found idle, and a request
    sent on it at that moment meets a closed socket: pouchdb-server closes after 5 s, the
    watcher's heartbeat interval. A request that never reached a server is sent again, once,
    on a new connection; a GET or HEAD whose answer was lost too (reading has no effect). A
    write whose answer was lost is never sent again here: the caller decides (it may have
    been written). Nor is a read that timed out: the server is slow, not gone, and waiting
    again would double the wait."""

    def increment(self, method: str | None = None, url: str | None = None,
                  response: Any = None, error: Exception | None = None,
                  _pool: Any = None, _stacktrace: Any = None) -> Retry:
        if isinstance(error, ReadTimeoutError):
            return Retry.increment(self.new(read=False), method, url, response, error,
                                   _pool, _stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)


RESEND = _Resend(total=1, connect=1, read=1, status=0, other=0, redirect=0,
                 allowed_methods=frozenset({"GET", "HEAD"}), raise_on_status=False)


def _environment_once(session: requests.Session, base: str) -> None:
    """What requests reads from the environment on every call (proxies, CA bundle), read
    once for the one server this session talks to: it cost more than the request. (A CA
    bundle named for plain HTTP would only cost a look at the file system per request.)"""
    proxies = requests.utils.get_environ_proxies(base)
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session.trust_env = False
    session.proxies.update(proxies)
    if ca_bundle and session.verify is True and base.startswith("https:"):
        session.verify = ca_bundle


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The SDK's TLS settings (its SSLHTTPAdapter: requests' CA bundle, TLS 1.2 at least),
    made once per process: loading the bundle took 17 ms, for every thread's client."""
    context = create_urllib3_context()
    context.load_verify_locations(certs.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _Adapter(HTTPAdapter):
    """One thread's connection pool, with the process's one TLS context; `RESEND`."""

    def __init__(self) -> None:
        super().__init__(max_retries=RESEND)

    def init_poolmanager(self, connections: int, maxsize: int,
                         block: bool = DEFAULT_POOLBLOCK, **kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, ssl_context=_tls_context(),
                                 **kwargs)


def configured(base: str, user: str | None, password: str | None,
               timeout: float) -> CloudantV1:
    """The client every thread's is a copy of (made once per `Couch`)."""
    auth = (BasicAuthenticator(user, password or "") if user else NoAuthAuthenticator())
    client = CloudantV1(authenticator=auth)
    client.set_service_url(base)
    client.set_http_config({"timeout": timeout})
    # Compression (the SDK gzips request bodies; pouch gzips answers) costs CPU at both
    # ends for every request, which a LAN link never repays.
    client.set_enable_gzip_compression(False)
    client.set_default_headers({"Accept-Encoding": "identity"})
    return client


def for_this_thread(template: CloudantV1, base: str) -> CloudantV1:
    """A copy of `template` with a session and connection pool of its own."""
    client = copy.copy(template)
    session = requests.Session()
    adapter = _Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    _environment_once(session, base)
    client.set_http_client(session)
    client.http_adapter = adapter
    return client
