"""Living next to an existing KAZOO cluster: copy its number data in (`pull`) or out
(`push`), keep both sides in step with CouchDB's replicator (`replicate`), and prove nothing
was lost (`verify`). What kzcarrier needs from a KAZOO CouchDB:

* every `numbers/...` database (the source of truth);
* in each `account/xx/yy/rest` database: the account document, `configs_number_manager`,
  and the number copies (3.x: the `phone_numbers` summary document instead);
* the `accounts` database (authorisation reads `pvt_tree`, admins, additions);
* `system_config/number_manager` and `number_manager.<carrier>`;
* `port_requests` (a number in an active port cannot be created).
"""
from __future__ import annotations

from typing import Any

from ..model.document import PhoneNumber
from ..numbers import NUMBERS_PREFIX, account_id_of_db

# kzcarrier's own private fields: the target's are kept when KAZOO's copy lacks them.
OWN_FIELDS = ("pvt_request", "pvt_request_state", "pvt_transitions")
SYSTEM_CONFIG = "system_config"
SHARED_DBS = ("accounts", SYSTEM_CONFIG, "port_requests")


def is_account_db(db: str) -> bool:
    return account_id_of_db(db) is not None


def wanted_dbs(all_dbs: list[str]) -> list[str]:
    """The databases sync copies, in the order it copies them: accounts and configuration
    first (number copies need the account databases), numbers last."""
    shared = [db for db in SHARED_DBS if db in all_dbs]
    accounts = sorted(db for db in all_dbs if is_account_db(db))
    numbers = sorted(db for db in all_dbs if db.startswith(NUMBERS_PREFIX))
    return shared + accounts + numbers


def is_number_id(doc_id: str) -> bool:
    return doc_id.startswith("+")


def keep_doc(db: str, doc: dict[str, Any]) -> bool:
    """Whether a document of `db` is part of what kzcarrier needs."""
    doc_id = doc["_id"]
    if doc_id.startswith("_design/"):
        return False
    if db.startswith(NUMBERS_PREFIX):
        return True
    if db == SYSTEM_CONFIG:
        return doc_id == "number_manager" or doc_id.startswith("number_manager.")
    if is_account_db(db):
        return (is_number_id(doc_id) or doc_id in ("configs_number_manager", "phone_numbers")
                or doc_id == account_id_of_db(db))
    return db in SHARED_DBS


def number_content(doc: dict[str, Any]) -> dict[str, Any]:
    """A number document in the KAZOO 4.x/5.x shape, every field kept (no `_rev`)."""
    body = PhoneNumber.from_json(doc).to_json()
    body.pop("_rev", None)
    return body


def unstable_fields(doc: dict[str, Any]) -> set[str]:
    """Timestamps a migration sets to "now" (the stored value was not an integer): they
    differ every time the same document is migrated, so they are not compared."""
    return {k for k in ("pvt_created", "pvt_modified")
            if not isinstance(doc.get(k), int) or isinstance(doc.get(k), bool)}


def comparable(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    return {k: v for k, v in doc.items() if k not in ("_rev", "_attachments", "_revisions")}
