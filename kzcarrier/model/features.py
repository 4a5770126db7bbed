"""Which number features a save may touch (`knm_providers`, reference/kazoo-feature-
providers.md §1-§3). Pure: the caller reads the lists from the number, the reseller's and
the system's configuration and passes them in.

A feature is a key name (`e911`, `cnam`, `prepend`...). A save *requests* every public root
feature key present on the number plus every private feature it already has; it may only
run when each requested feature is *available* (allowed minus denied), else the number
fails with 403, as in KAZOO.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

INTERNAL = ("failover", "force_outbound", "prepend", "ringback")
EXTERNAL = ("cnam", "inbound_cnam", "outbound_cnam", "e911", "port", "sms", "mms")
ADMIN_ONLY = ("carrier_name",)
ALL = INTERNAL + EXTERNAL + ADMIN_ONLY
ROOT_KEYS = ("cnam", "e911", "failover", "force_outbound", "local", "port", "prepend",
             "carrier_name", "ringback", "sms", "mms")
NOT_CHECKED = ("sms", "mms")   # KAZOO silently skips these when unavailable
LEGACY = {"cnam_notifier": "cnam", "telnyx_cnam": "cnam", "vitelity_cnam": "cnam",
          "dash_e911": "e911", "telnyx_e911": "e911", "vitelity_e911": "e911",
          "port_notifier": "port"}
# feature -> provider module, for the features whose provider is fixed
FIXED_PROVIDERS = {"prepend": "knm_prepend", "failover": "knm_failover",
                   "force_outbound": "knm_force_outbound", "carrier_name": "knm_rename_carrier",
                   "port": "knm_port_notifier", "sms": "knm_sms", "mms": "knm_mms"}
CNAM_FEATURES = ("cnam", "inbound_cnam", "outbound_cnam")
DEFAULT_CNAM_PROVIDER = "knm_cnam_notifier"
DEFAULT_E911_PROVIDER = "knm_dash_e911"


def cleanse(names: Iterable[Any]) -> list[str]:
    """KAZOO's `cleanse_features`: old module names folded to features, sorted, unique."""
    out = set()
    for raw in names:
        name = str(raw)
        for prefix in ("wnm_", "knm_"):
            name = name.removeprefix(prefix)
        out.add(LEGACY.get(name, name))
    return sorted(out)


@dataclass(frozen=True)
class Permissions:
    """Everything `available_features` reads, gathered by the caller."""

    number_allowed: list[str]          # pvt_features_allowed ([] = not set)
    number_denied: list[str]           # pvt_features_denied ([] = not set)
    reseller_allowed: list[str] | None  # features.allow from the reseller, else the system
    reseller_denied: list[str] | None   # features.deny the same way (None = undefined)
    system_allowed: list[str]
    local_feature_override: bool = False
    is_admin: bool = False


def available_features(perms: Permissions, assigned: bool, local: bool,
                       used_by: str | None) -> list[str]:
    """`knm_providers:available_features/1` (§2), sms/mms filtering left to the providers."""
    allowed = (perms.number_allowed
               or (perms.reseller_allowed if assigned else None)
               or perms.system_allowed)
    if perms.number_denied:
        denied = list(perms.number_denied)
    else:
        if not assigned:
            denied = list(EXTERNAL)
        elif perms.reseller_denied is not None:
            denied = list(perms.reseller_denied)
        elif local and not perms.local_feature_override:
            denied = list(EXTERNAL)
        else:
            denied = []
        if used_by != "trunkstore":
            denied.append("failover")
    if not perms.is_admin:
        denied.append("carrier_name")
    gone = set(cleanse(denied))
    return [f for f in cleanse(allowed) if f not in gone]


def requested_features(public: dict[str, Any], private: dict[str, Any]) -> list[str]:
    """Public root keys present (any value, `false` and `{}` included) and every private
    feature, `local` and the deprecated `im` left out."""
    names = {k for k in ROOT_KEYS if k in public} | set(private)
    return sorted(n for n in names if n not in ("local", "im"))


def denied_requests(requested: list[str], available: list[str]) -> list[str]:
    """What makes a save fail with 403 (KAZOO ignores sms/mms here)."""
    have = set(available)
    return [f for f in cleanse(requested) if f not in have and f not in NOT_CHECKED]


def provider_module(feature: str, cnam_provider: str, e911_provider: str) -> str:
    if feature in CNAM_FEATURES:
        return cnam_provider
    if feature == "e911":
        return e911_provider
    return FIXED_PROVIDERS.get(feature, feature)   # e.g. "ringback": no such module
