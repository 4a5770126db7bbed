"""KAZOO's `kt_numbers` CSV columns (the `number_management` task): a number document as a
row, and a row's cells as the public fields an import or update sets
(reference/kazoo-number-maintenance.md §7.1)."""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import KzError
from ..numbers import is_account_id

COLUMNS = (
    "e164", "account_name", "account_id", "previously_assigned_to", "state", "created",
    "modified", "used_by", "ported_in", "carrier_module", "cnam.inbound", "cnam.outbound",
    "e911.locality", "e911.name", "e911.region", "e911.street_address",
    "e911.extended_address", "e911.postal_code", "prepend.enabled", "prepend.name",
    "prepend.number", "ringback.early", "ringback.transfer", "force_outbound",
    "failover.e164", "failover.sip",
)

# column -> (private feature, its key) for the listing; public field path for imports
_FEATURE_CELLS = {
    "cnam.inbound": ("inbound_cnam", "inbound_lookup", ("cnam", "inbound_lookup")),
    "cnam.outbound": ("outbound_cnam", "display_name", ("cnam", "display_name")),
    "e911.locality": ("e911", "locality", ("e911", "locality")),
    "e911.name": ("e911", "caller_name", ("e911", "caller_name")),
    "e911.region": ("e911", "region", ("e911", "region")),
    "e911.street_address": ("e911", "street_address", ("e911", "street_address")),
    "e911.extended_address": ("e911", "extended_address", ("e911", "extended_address")),
    "e911.postal_code": ("e911", "postal_code", ("e911", "postal_code")),
    "prepend.enabled": ("prepend", "enabled", ("prepend", "enabled")),
    "prepend.name": ("prepend", "name", ("prepend", "name")),
    "prepend.number": ("prepend", "number", ("prepend", "number")),
    "ringback.early": ("ringback", "early", ("ringback", "early")),
    "ringback.transfer": ("ringback", "transfer", ("ringback", "transfer")),
    "failover.e164": ("failover", "e164", ("failover", "e164")),
    "failover.sip": ("failover", "sip", ("failover", "sip")),
}
_BOOLEAN = {"cnam.inbound", "prepend.enabled", "force_outbound"}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def row_of(doc: Mapping[str, Any], account_names: Mapping[str, str],
           default_force_outbound: bool = False) -> dict[str, str]:
    """The 26 columns of a stored number document (private features, as KAZOO lists)."""
    feats = doc.get("pvt_features") or {}
    owner = doc.get("pvt_assigned_to")
    row = {
        "e164": doc["_id"],
        "account_name": account_names.get(owner, "") if owner else "",
        "account_id": owner,
        "previously_assigned_to": doc.get("pvt_previously_assigned_to"),
        "state": doc.get("pvt_state") or doc.get("pvt_number_state"),
        "created": doc.get("pvt_created"),
        "modified": doc.get("pvt_modified"),
        "used_by": doc.get("pvt_used_by"),
        "ported_in": bool(doc.get("pvt_ported_in")),
        "carrier_module": doc.get("pvt_module_name"),
        "force_outbound": feats.get("force_outbound", default_force_outbound),
    }
    for column, (feature, key, _) in _FEATURE_CELLS.items():
        value = feats.get(feature)
        row[column] = value.get(key) if isinstance(value, dict) else None
    return {c: _cell(row.get(c)) for c in COLUMNS}


def public_fields_of(row: Mapping[str, str], carrier_name: bool = False) -> dict[str, Any]:
    """The public fields a row's non-empty feature cells set (`opaque.a.b` -> `a.b`)."""
    fields: dict[str, Any] = {}

    def put(path: tuple[str, ...], value: Any) -> None:
        node = fields
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    for column, cell in row.items():
        if cell is None or cell == "" or column is None:
            continue
        value: Any = cell == "true" if column in _BOOLEAN else cell
        if column in _FEATURE_CELLS:
            put(_FEATURE_CELLS[column][2], value)
        elif column == "force_outbound":
            put(("force_outbound",), value)
        elif column == "carrier_name" and carrier_name:
            put(("carrier_name",), cell)
        elif column.startswith("opaque."):
            put(tuple(column[len("opaque."):].split(".")), cell)
    return fields


def check_row(row: Mapping[str, str], known_modules: set[str]) -> None:
    """KAZOO's input verifiers: a failing cell makes the row's error `bad field(s) ...`."""
    bad = []
    if not (row.get("e164") or "").startswith("+"):
        bad.append("e164")
    if row.get("account_id") and not is_account_id(row["account_id"]):
        bad.append("account_id")
    if row.get("carrier_module") and row["carrier_module"] not in known_modules:
        bad.append("carrier_module")
    if row.get("ported_in") and row["ported_in"] not in ("true", "false"):
        bad.append("ported_in")
    if bad:
        raise KzError(f"bad field(s) {' '.join(bad)}")
