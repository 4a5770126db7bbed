"""What a dry run would cost: a quote in KAZOO's invoice shape (reference/kazoo-number-states.md §6).

For every account a number would be added to, the quantities KAZOO derives from a number
document (`kz_services_quantities`) are priced with the service plans that apply to the
account: `phone_numbers.<classification>` (not for local numbers), `number_carriers.<module>`
and `number_services.<feature>`. Plans are KAZOO-format documents (`plan.<category>.<item>`
with `rate` and `activation_charge`, `_all` as the category-wide fallback) named in the
account's `services` document (`plans: {plan_id: {vendor_id}}`) and stored in the vendor's
account database (the reseller's by default). No applicable plan: an empty quote.

A real change is gated like crossbar gates it (`gate`): a non-empty quote must be accepted
(`accept_charges`, else 402 `accept_charges` with the quote; `require_accept_charges` per
reseller or system turns the handshake off), and an account that is not in good standing
(`pvt_status` of its services document) may not incur charges (402 `service_restriction`).
"""
from __future__ import annotations

from typing import Any

from ..couch.client import Couch
from ..errors import AcceptCharges, KzError, ServiceRestriction
from ..model.config import NUMBER_MANAGER, Config
from ..numbers import NumberRules, account_db, is_account_id
from .model import Outcome
from .services import HELD, SERVICES_DB, items_of


def plans_for(couch: Couch, config: Config, account_id: str) -> list[tuple[str, dict[str, Any]]]:
    services = couch.get(SERVICES_DB, account_id, missing_ok=True) if \
        couch.db_exists(SERVICES_DB) else None
    out = []
    for plan_id, spec in ((services or {}).get("plans") or {}).items():
        vendor = (spec or {}).get("vendor_id") or config.reseller_of(account_id) or account_id
        if not is_account_id(vendor):
            continue
        plan = couch.get(account_db(vendor), plan_id, missing_ok=True)
        if plan and isinstance(plan.get("plan"), dict):
            out.append((plan_id, plan["plan"]))
    return out


def price(plans: list[tuple[str, dict[str, Any]]], category: str, item: str,
          ) -> dict[str, Any] | None:
    for _, plan in plans:
        cat = plan.get(category) or {}
        spec = cat.get(item) or cat.get("_all")
        if isinstance(spec, dict):
            return spec
    return None


def quote(couch: Couch, config: Config, rules: NumberRules, outcomes: list[Outcome],
          ) -> list[dict[str, Any]]:
    added: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        if outcome.deleted or outcome.to_state not in HELD or not outcome.assigned_to:
            continue
        if outcome.from_state in HELD and not outcome.changed:
            continue
        added.setdefault(outcome.assigned_to, []).append(outcome)
    invoices = []
    for account_id, outs in sorted(added.items()):
        plans = plans_for(couch, config, account_id)
        if not plans:
            continue
        counts: dict[tuple[str, str], int] = {}
        for outcome in outs:
            for key in items_of({"_id": outcome.number, **(outcome.doc or {})},
                                rules.classify):
                counts[key] = counts.get(key, 0) + 1
        items, activations = [], []
        for (category, item), n in sorted(counts.items()):
            spec = price(plans, category, item)
            if spec is None:
                continue
            name = spec.get("name") or item
            rate = float(spec.get("rate") or 0)
            items.append({"category": category, "item": item, "name": name, "quantity": n,
                          "billable": n, "rate": rate, "total": round(n * rate, 2)})
            activation = float(spec.get("activation_charge") or 0)
            if activation:
                activations.append({"category": category, "item": item, "name": name,
                                    "billable": n, "rate": activation,
                                    "total": round(n * activation, 2)})
        if not items:
            continue
        invoices.append({
            "account_id": account_id, "plan": [plan_id for plan_id, _ in plans],
            "activation_charges": activations, "items": items, "taxes": [],
            "summary": {"today": round(sum(a["total"] for a in activations), 2),
                        "recurring": round(sum(i["total"] for i in items), 2)}})
    return invoices


def has_plans(config: Config, accounts: set[str | None]) -> bool:
    """Whether any of `accounts` is priced at all (a cached read per account)."""
    return any(((config.read(SERVICES_DB, a) or {}).get("plans"))
               for a in accounts if is_account_id(a))


def gate(config: Config, invoices: list[dict[str, Any]], accepted: bool) -> KzError | None:
    """Crossbar's 402 handshake, then `kz_services_standing`; None: go ahead."""
    if not invoices:
        return None
    if not accepted and any(config.get_from_reseller(inv["account_id"], NUMBER_MANAGER,
                                                     "require_accept_charges", True)
                            for inv in invoices):
        return AcceptCharges(invoices)
    for inv in invoices:
        if inv["summary"]["today"] + inv["summary"]["recurring"] <= 0:
            continue
        status = (config.read(SERVICES_DB, inv["account_id"]) or {}).get("pvt_status")
        if status not in (None, "good_standing"):
            return ServiceRestriction(inv["account_id"], f"account {inv['account_id']} is "
                                      f"{status}: not enough credit to activate number")
    return None
