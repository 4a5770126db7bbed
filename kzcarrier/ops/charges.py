"""What a dry run would cost: a quote in KAZOO's invoice shape (reference/kazoo-number-states.md §6).

For every account a number would be added to, the quantities KAZOO derives from a number
document (`kz_services_quantities`) are priced with the service plans that apply to the
account: `phone_numbers.<classification>` (not for local numbers), `number_carriers.<module>`
and `number_services.<feature>`. Plans are KAZOO-format documents (`plan.<category>.<item>`
with `rate` and `activation_charge`, `_all` as the category-wide fallback) named in the
account's `services` document (`plans: {plan_id: {vendor_id}}`) and stored in the vendor's
account database (the reseller's by default). No applicable plan: an empty quote.
"""
from __future__ import annotations

from typing import Any

from ..couch.client import Couch
from ..model.config import Config
from ..numbers import NumberRules, account_db, is_account_id
from .model import Outcome

HELD = ("reserved", "in_service", "port_in")
SERVICES_DB = "services"


def quantities(outcome: Outcome, classify: Any) -> list[tuple[str, str]]:
    doc = outcome.doc or {}
    features = doc.get("pvt_features") or {}
    items = []
    if "local" not in features:
        items.append(("phone_numbers", classify(outcome.number) or "unknown"))
    items.append(("number_carriers", doc.get("pvt_module_name") or "knm_local"))
    items.extend(("number_services", name) for name in sorted(features))
    return items


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
            for key in quantities(outcome, rules.classify):
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
