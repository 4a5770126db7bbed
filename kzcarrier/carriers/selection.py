"""Which carriers a search or an order uses (`knm_carriers`, reference/kazoo-carrier-modules.md §2).

Without an account and a reseller: `number_manager.carrier_modules` (default
`[available_module_name]`). With both: `knm_reserved`, `knm_reserved_reseller`, `knm_local`
first, then the reseller's `carrier_modules` (its `configs_number_manager`, else the
system list). Modules that are not installed are dropped, as KAZOO's keep_only_reachable.
"""
from __future__ import annotations

from typing import Any

from ..model.auth import SYSTEM, Accounts, allowed_creation_states
from ..model.config import NUMBER_MANAGER, Config
from . import available, module_name

FIRST = ("knm_reserved", "knm_reserved_reseller", "knm_local")


def default_carrier(config: Config) -> str:
    return config.get(NUMBER_MANAGER, "available_module_name")


def system_carriers(config: Config) -> list[str]:
    return list(config.get(NUMBER_MANAGER, "carrier_modules") or [default_carrier(config)])


def available_carriers(config: Config, account_id: str | None = None,
                       reseller_id: str | None = None) -> list[str]:
    if not account_id or not reseller_id:
        wanted = system_carriers(config)
    else:
        reseller = config.account_section(reseller_id, NUMBER_MANAGER).get("carrier_modules")
        chosen = reseller if isinstance(reseller, list) else system_carriers(config)
        wanted = list(FIRST) + [m for m in chosen if m not in FIRST]
    installed = set(available())
    out: list[str] = []
    for name in wanted:
        mod = module_name(str(name))
        if mod in installed and mod not in out:
            out.append(mod)
    return out


def carriers_info(config: Config, carriers: list[Any], auth_by: str | None = SYSTEM,
                  ) -> dict[str, Any]:
    """`knm_carriers:info/3`: the maximal prefix length over the given carriers, the
    usable carrier names, and the states `auth_by` may create numbers in."""
    longest = 15
    for carrier in carriers:
        value = carrier.info().get("maximal_prefix_length")
        if isinstance(value, int) and value < longest:
            longest = value
    return {"maximal_prefix_length": longest,
            "usable_carriers": sorted(m[4:] for m in available()
                                      if m not in ("knm_reserved", "knm_reserved_reseller")),
            "usable_creation_states": list(allowed_creation_states(
                Accounts({auth_by: config.account(auth_by) or {}} if auth_by else {}),
                auth_by))}
