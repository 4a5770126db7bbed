"""`kzcarrier db load` and `kzcarrier number ...`: number documents and operations."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..app import App
from ..engine.journal import copies_pending
from ..errors import KzError
from ..model.config import parse_value
from ..ops.model import Options
from ..sync.loader import load_directory
from .common import EXIT_ERROR, emit


@click.group()
def db() -> None:
    """Databases."""


@db.command("load")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def db_load(app: App, directory: Path, as_json: bool) -> None:
    """Load DIRECTORY in KAZOO's fixture layout (<encoded db>/docs/*.json)."""
    total = sum(1 for p in directory.iterdir() if p.is_dir())
    with click.progressbar(length=total, label="loading", file=sys.stderr,
                           hidden=as_json) as bar:
        report = load_directory(app.couch, directory, progress=bar.update)
    data = report.to_json()
    lines = [f"{report.databases} databases: {report.written} documents written, "
             f"{report.unchanged} unchanged, {len(report.failed)} failed"]
    lines += [f"  failed {d}/{f}: {r}" for d, f, r in report.failed]
    emit(data, as_json, "\n".join(lines))
    if report.failed:
        sys.exit(EXIT_ERROR)


@click.group()
def number() -> None:
    """Number documents and operations."""


@number.command("show")
@click.argument("num")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def number_show(app: App, num: str, as_json: bool) -> None:
    """Show NUM's document in the KAZOO 4.x/5.x shape."""
    pn = app.store().fetch(num)
    doc = pn.to_json()
    if as_json:
        emit(doc, True)
        return
    click.echo(f"{pn.number}  {pn.state}  {pn.module_name}  "
               f"assigned_to={pn.assigned_to or '-'}  used_by={pn.used_by or '-'}")
    click.echo(json.dumps(doc, indent=2, sort_keys=True))
    if pn.migrations:
        click.echo("migrated on read: " + "; ".join(pn.migrations))


def _number_op(operation: str, extra: list[click.Option] = ()):  # type: ignore[assignment]
    """Build `kzcarrier number <operation> NUMBER...` over `Ops.perform`."""

    @click.argument("numbers", nargs=-1, required=True)
    @click.option("--assign-to", default=None, help="Account id the numbers end up in.")
    @click.option("--auth-by", default="system", show_default=True,
                  help="Account id performing the operation, or 'system'.")
    @click.option("--dry-run", is_flag=True, help="Plan and quote; call no carrier, write nothing.")
    @click.option("--module-name", default=None, help="Carrier module (create).")
    @click.option("--public-fields", default=None, help="JSON object of public fields.")
    @click.option("--mdn-run", is_flag=True, help="Operate on MDN (mobile) numbers.")
    @click.option("--accept-charges", is_flag=True,
                  help="Go ahead when the change costs money (else: 402 with the quote).")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def command(app: App, numbers: tuple[str, ...], assign_to: str | None, auth_by: str,
                dry_run: bool, module_name: str | None, public_fields: str | None,
                mdn_run: bool, accept_charges: bool, as_json: bool, **more: Any) -> None:
        fields = parse_value(public_fields) if public_fields is not None else None
        if fields is not None and not isinstance(fields, dict):
            raise KzError("--public-fields must be a JSON object")
        opts = Options(auth_by=auth_by, assign_to=assign_to, dry_run=dry_run,
                       module_name=module_name, public_fields=fields, mdn_run=mdn_run,
                       accept_charges=accept_charges,
                       **{k: v for k, v in more.items() if v not in (None, False)})
        with app.announcing():
            result = app.ops().perform(operation, list(numbers), opts)
        for outcome in result.successes.values():
            if outcome.copies_error is not None:     # the engine's sweep repairs it
                copies_pending(app.couch, outcome.number, outcome.copies_error)
        data = result.to_json()
        lines = []
        for num, outcome in result.outcomes.items():
            if outcome.error is not None:
                err = outcome.error.to_json()
                cause = err.get("cause")
                if err["error"] == "accept_charges":
                    cause = "; ".join(f"{i['account_id']}: today {i['summary']['today']}, "
                                      f"recurring {i['summary']['recurring']}"
                                      for i in cause) + "; repeat with --accept-charges"
                lines.append(f"{num}  FAILED  {err['code']} {err['error']}: {err['message']}"
                             + (f" ({cause})" if cause else ""))
            else:
                action = f"  carrier: {outcome.carrier_action}" if outcome.carrier_action else ""
                verb = "would be" if dry_run else "now"
                behind = (f"  (account copy not written: {outcome.copies_error}; "
                          "`kzcarrier watch` brings it in step)") if outcome.copies_error else ""
                lines.append(f"{num}  {verb} {outcome.to_state}  "
                             f"owner={outcome.assigned_to or '-'}  "
                             f"module={outcome.module_name}{action}{behind}")
        if dry_run:
            lines.append("charges: " + (json.dumps(result.charges) if result.charges else "none"))
        emit(data, as_json, "\n".join(lines))
        if result.failures:
            sys.exit(EXIT_ERROR)

    for opt in extra:
        command = opt(command)
    command.__doc__ = f"{operation.replace('_', ' ').capitalize()} NUMBERS (KAZOO knm_ops)."
    return number.command(operation.replace("_", "-"))(command)


_number_op("create", [click.option("--state", default=None,
                                   type=click.Choice(["in_service", "reserved", "available",
                                                      "aging", "port_in"])),
                      click.option("--ported-in", is_flag=True)])
_number_op("move")
_number_op("reserve")
_number_op("release")
_number_op("delete")
_number_op("update", [click.option("--ported-in", is_flag=True),
                      click.option("--merge", is_flag=True,
                                   help="Merge --public-fields into the existing ones "
                                        "(KAZOO's PATCH) instead of replacing them (POST).")])
_number_op("assign_to_app", [click.option("--used-by", required=True, help="Application.")])
_number_op("transition", [click.option("--state", required=True,
                                       type=click.Choice(["in_service", "reserved", "available",
                                                          "aging", "port_in"]))])


