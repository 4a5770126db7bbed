"""`kapi_conf` doc_update messages as KAZOO's `kzs_publish` builds them. Pure."""
from __future__ import annotations

import secrets
import socket
from typing import Any

from .. import __version__
from ..numbers import encode_db, is_account_id

EXCHANGE = "configuration"
APP_NAME = "kzcarrier"
SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-~_")


def encode_id(doc_id: str) -> str:
    """`kz_amqp_util:encode/1`: unreserved kept, space -> `+`, anything else `%XX`."""
    if doc_id in ("*", "#", ""):
        return doc_id
    out = []
    for byte in doc_id.encode():
        char = chr(byte)
        if char in SAFE:
            out.append(char)
        elif char == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def action_of(doc: dict[str, Any], created: bool) -> str:
    if doc.get("_deleted") or doc.get("pvt_deleted"):
        return "doc_deleted"
    return "doc_created" if created else "doc_edited"


def doc_type(db: str, doc: dict[str, Any]) -> str:
    """`pvt_type`; a deletion in a numbers database without one is still a `number`
    (KAZOO sends `undefined` there, which number caches bound by type never see)."""
    if doc.get("pvt_type"):
        return str(doc["pvt_type"])
    return "number" if db.startswith("numbers/") else "undefined"


def routing_key(action: str, db: str, kind: str, doc_id: str) -> str:
    return f"{action}.{encode_db(db)}.{kind}.{encode_id(doc_id)}"


def doc_update(action: str, db: str, doc: dict[str, Any], doc_id: str, rev: str,
               node: str | None = None) -> tuple[str, dict[str, Any]]:
    """(routing key, body) for one written document."""
    kind = doc_type(db, doc)
    body: dict[str, Any] = {
        "App-Name": APP_NAME, "App-Version": __version__, "Event-Category": EXCHANGE,
        "Event-Name": action, "Msg-ID": secrets.token_hex(16),
        "Node": node or f"kzcarrier@{socket.gethostname()}",
        "ID": doc_id, "Database": encode_db(db), "Type": kind, "Rev": rev,
        "Is-Soft-Deleted": bool(doc.get("pvt_deleted"))}
    # KAZOO swaps the two (kzs_publish:publish/3); kept for listeners that read them
    if doc.get("pvt_modified") is not None:
        body["Date-Created"] = doc["pvt_modified"]
    if doc.get("pvt_created") is not None:
        body["Date-Modified"] = doc["pvt_created"]
    account = doc.get("pvt_account_id")
    if is_account_id(account):
        body["Account-ID"] = account
    elif db.startswith("account/"):
        body["Account-ID"] = db[len("account/"):].replace("/", "")
    return routing_key(action, db, kind, doc_id), body
