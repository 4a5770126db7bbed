"""`number lookup`: what KAZOO's routing sees for a number (`knm_number:lookup_account`,
reference/kazoo-number-maintenance.md §3.13, §5.4): the owner and the call properties,
from the number database, or from an active port request when there is no number yet."""
from __future__ import annotations

from typing import Any

from ..couch.client import Couch
from ..errors import NotFound
from ..model.config import NUMBER_MANAGER, Config
from ..model.document import LOCAL_MODULES
from ..numbers import NumberRules, number_db
from ..ops.operations import PORT_REQUESTS, active_ports

ROUTABLE = ("in_service", "port_in")


def lookup(couch: Couch, config: Config, rules: NumberRules, number: str) -> dict[str, Any]:
    num = rules.parse(number)
    doc = couch.get(number_db(num), num, missing_ok=True) \
        if couch.db_exists(number_db(num)) else None
    if doc is None or doc.get("pvt_state") == "deleted":
        port = active_ports(couch, [num]).get(num)
        if port is None:
            raise NotFound(num)
        return {"number": num, "account_id": port["value"], "routable": True,
                "pending_port": True, "local": True, "force_outbound": True,
                "source": f"{PORT_REQUESTS}/{port['id']}"}
    feats = doc.get("pvt_features") or {}
    state = doc.get("pvt_state") or doc.get("pvt_number_state")
    prepend = feats.get("prepend") or {}
    return {
        "number": num,
        "account_id": doc.get("pvt_assigned_to"),
        "state": state,
        "routable": state in ROUTABLE and bool(doc.get("pvt_assigned_to")),
        "reason": None if state in ROUTABLE else "not_in_service",
        "pending_port": state == "port_in",
        "module_name": doc.get("pvt_module_name"),
        "used_by": doc.get("pvt_used_by"),
        "local": doc.get("pvt_module_name") in LOCAL_MODULES or "local" in feats,
        "force_outbound": feats.get("force_outbound",
                                    config.get(NUMBER_MANAGER, "default_force_outbound", False)),
        "prepend": prepend.get("name") or prepend.get("number")
        if prepend.get("enabled", True) and prepend else None,
        "ringback": feats.get("ringback"),
        "inbound_cnam": bool((feats.get("inbound_cnam") or {}).get("inbound_lookup")),
        "outbound_cnam": (feats.get("outbound_cnam") or {}).get("display_name"),
        "failover": feats.get("failover"),
        "e911": feats.get("e911"),
        "source": number_db(num),
    }

