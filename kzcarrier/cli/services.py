"""`kzcarrier services verify`: service quantities against the numbers."""
from __future__ import annotations

import sys

import click

from ..app import App
from ..errors import KzError
from ..numbers import is_account_id
from .common import EXIT_ERROR, emit


@click.group()
def services() -> None:
    """KAZOO's services documents: what billing counts for numbers."""


@services.command("verify")
@click.option("--account", "accounts", multiple=True, help="Only this account (repeatable).")
@click.option("--fix", is_flag=True, help="Write the recount where it differs.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def verify(app: App, accounts: tuple[str, ...], fix: bool, as_json: bool) -> None:
    """Recount every account's number quantities; report (or --fix) what drifted."""
    from ..ops.services import SERVICES_DB, Services

    svc = Services(app.couch, app.rules().classify)
    if not svc.enabled():
        raise KzError("no services database here: nothing to verify")
    wanted = list(accounts) or [r["id"] for r in app.couch.all_docs(SERVICES_DB, False)
                                if is_account_id(r["id"])]
    drifted = []
    for account in wanted:
        found = svc.drift(account)
        if found is not None:
            drifted.append(found)
            if fix:
                svc.reconcile(account)
    lines = [f"{d['account_id']}: stored {d['stored']} counted {d['counted']}"
             + (" (fixed)" if fix else "") for d in drifted]
    lines.append(f"{len(wanted)} accounts, {len(drifted)} drifted"
                 + (", fixed" if fix and drifted else ""))
    emit({"accounts": len(wanted), "drift": drifted, "fixed": fix}, as_json, "\n".join(lines))
    if drifted and not fix:
        sys.exit(EXIT_ERROR)
