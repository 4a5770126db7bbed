"""CouchDB URLs: the credentials kept apart from the address, and never shown."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import StorageError


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`http://user:pw@host:5984/` -> (`http://host:5984`, user, pw)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StorageError(f"not a CouchDB URL: {redact(url)!r} (want http[s]://host:port)")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return base, user, password


def redact(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
