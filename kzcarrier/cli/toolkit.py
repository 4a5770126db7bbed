"""The operator's number toolkit on the command line: `number list/export/import/lookup/
convert-carrier/generate/crawl`, `repair ...` and `port ...` (library: `toolkit/`)."""
from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import IO, Any, Iterator

import click

from ..app import App
from ..errors import KzError
from ..ops.services import Services
from ..toolkit import bulk, listing
from ..toolkit.columns import COLUMNS
from ..toolkit.crawler import Crawler
from ..toolkit.lookup import lookup
from ..toolkit.ports import PortRequests
from ..toolkit.repair import Repairs, Report
from ..toolkit.scan import Selection, descendants
from .common import EXIT_ERROR, emit
from .numbers import number

SELECTION = {
    "account": click.option("--account", default=None,
                            help="Numbers assigned to this account."),
    "descendants": click.option("--descendants", is_flag=True,
                                help="... and to its sub-accounts."),
    "state": click.option("--state", "states", multiple=True,
                          help="Only this state (repeatable)."),
    "module": click.option("--module", default=None,
                           help="Only this carrier module (knm_...)."),
    "prefix": click.option("--prefix", default=None,
                           help="Only numbers starting so (+1415...)."),
}


def selection_options(fn: Any, only: tuple[str, ...] = tuple(SELECTION)) -> Any:
    for name in reversed(only):
        fn = SELECTION[name](fn)
    return fn


def _selection(app: App, account: str | None, descendants_: bool, states: tuple[str, ...],
               module: str | None, prefix: str | None) -> Selection:
    accounts: tuple[str, ...] = ()
    if account:
        accounts = tuple(descendants(app.couch, account) if descendants_ else [account])
    elif descendants_:
        raise KzError("--descendants needs --account")
    return Selection(accounts=accounts, states=states, module=module, prefix=prefix)


def _counted(items: Iterator[dict[str, str]], label: str, show: bool) -> Iterator[dict[str, str]]:
    """Progress on stderr every 10,000 rows (long listings and exports)."""
    for count, item in enumerate(items, 1):
        if show and count % 10000 == 0:
            click.echo(f"{label}: {count}...", err=True)
        yield item


@number.command("list")
@selection_options
@click.option("--format", "fmt", type=click.Choice(listing.FORMATS), default="table",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--limit", type=int, default=None, help="At most this many numbers.")
@click.pass_obj
def number_list(app: App, account: str | None, descendants: bool, states: tuple[str, ...],
                module: str | None, prefix: str | None, fmt: str, as_json: bool,
                limit: int | None) -> None:
    """List numbers by account, state, carrier module and prefix (views, paged)."""
    sel = _selection(app, account, descendants, states, module, prefix)
    fmt = "json" if as_json else fmt
    count = listing.write(sys.stdout, listing.rows(app.couch, app.config, sel, limit), fmt)
    if fmt == "table":
        click.echo(f"{count} numbers", err=True)


@number.command("export")
@selection_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV file to write (default: stdout).")
@click.pass_obj
def number_export(app: App, account: str | None, descendants: bool, states: tuple[str, ...],
                  module: str | None, prefix: str | None, output: Path | None) -> None:
    """Export numbers as CSV with KAZOO's kt_numbers columns (the `list`/`dump` tasks)."""
    sel = _selection(app, account, descendants, states, module, prefix)
    items = _counted(listing.rows(app.couch, app.config, sel), "exported", output is not None)
    if output is None:
        listing.write(sys.stdout, items, "csv")
        return
    with output.open("w", newline="") as out:
        count = listing.write(out, items, "csv")
    click.echo(f"{count} numbers written to {output}", err=True)


@number.command("import")
@click.argument("file", type=click.File("r"))
@click.option("--action", type=click.Choice(bulk.ACTIONS), default="import", show_default=True,
              help="What each row does (KAZOO's number_management task actions).")
@click.option("--account", default=None,
              help="The task's account: rows without an account_id cell go there.")
@click.option("--auth-by", default="system", show_default=True)
@click.option("--accept-charges", is_flag=True)
@click.option("-o", "--output", type=click.File("w"), default="-",
              help="Result CSV: each row's number as it now is, or its error.")
@click.pass_obj
def number_import(app: App, file: IO[str], action: str, account: str | None, auth_by: str,
                  accept_charges: bool, output: IO[str]) -> None:
    """Run a kt_numbers CSV: one result row per input row; a bad row changes nothing."""
    task = bulk.Task(app.ops(), action, account, auth_by, accept_charges,
                     names=lambda a: (app.config.account(a) or {}).get("name", ""))
    writer = csv.DictWriter(output, fieldnames=[*COLUMNS, "error"], lineterminator="\n")
    writer.writeheader()
    done = failed = 0
    with app.announcing():
        for row in task.run(csv.DictReader(file)):
            writer.writerow(row)
            done += 1
            failed += bool(row["error"])
    click.echo(f"{done} rows: {done - failed} done, {failed} failed", err=True)
    if failed:
        sys.exit(EXIT_ERROR)


@number.command("lookup")
@click.argument("num")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def number_lookup(app: App, num: str, as_json: bool) -> None:
    """What KAZOO's call routing sees for NUM: owner, state, call features."""
    found = lookup(app.couch, app.config, app.rules(), num)
    lines = [f"{k}: {v}" for k, v in found.items() if v not in (None, False, {})]
    emit(found, as_json, "\n".join(lines))


@number.command("convert-carrier")
@click.argument("source")
@click.argument("target")
@lambda fn: selection_options(fn, only=("account", "descendants", "prefix"))
@click.option("--dry-run", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def number_convert_carrier(app: App, source: str, target: str, account: str | None,
                           descendants: bool, prefix: str | None, dry_run: bool,
                           as_json: bool) -> None:
    """Move every number of carrier module SOURCE to TARGET (convert_carrier_module)."""
    sel = _selection(app, account, descendants, (), None, prefix)
    with app.announcing():
        out = bulk.convert_carrier(app.ops(), source, target, prefix, sel.accounts, dry_run)
    text = (f"{'would update' if dry_run else 'updated'} carrier module to {out['target']} "
            f"for {len(out['updated'])}/{out['found']} number(s)"
            + "".join(f"\n  {n}  FAILED {e['message']}" for n, e in out["failed"].items()))
    emit(out, as_json, text)
    if out["failed"]:
        sys.exit(EXIT_ERROR)


@number.command("generate")
@click.argument("pool", type=click.Choice(sorted(bulk.POOLS)))
@click.argument("account")
@click.argument("start")
@click.argument("quantity", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def number_generate(app: App, pool: str, account: str, start: str, quantity: int,
                    as_json: bool) -> None:
    """QUANTITY available numbers from START in the managed or inum pool of ACCOUNT."""
    out = bulk.generate(app.couch, pool, account, start, quantity)
    emit(out, as_json, f"{len(out['created'])} numbers created in {out['database']}"
         + (f"; {len(out['existing'])} already there" if out["existing"] else ""))


@number.command("crawl")
@click.option("--dry-run", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def number_crawl(app: App, dry_run: bool, as_json: bool) -> None:
    """One pass of the number crawler (`watch` runs it every --crawl-interval)."""
    crawler = Crawler(app.couch, app.store(), app.config)
    report = crawler.crawl(dry_run=True) if dry_run else crawler.run()
    data = report.to_json()
    verb = "would be" if dry_run else "were"
    emit(data, as_json, f"{len(report.aged)} aging numbers {verb} made available, "
         f"{len(report.discovery_purged)} discovery and {len(report.deleted_purged)} deleted "
         f"documents {verb} purged, {len(report.skipped)} left for the next crawl")


# --- repairs -------------------------------------------------------------------------------

@click.group()
def repair() -> None:
    """KAZOO's number maintenance fixes, each with --dry-run and a report."""


def _show(reports: list[Report], as_json: bool) -> None:
    emit([r.to_json() for r in reports], as_json,
         "\n".join(line for r in reports for line in r.lines()))
    if any(r.failed for r in reports):
        sys.exit(EXIT_ERROR)


def _repair_command(name: str, doc: str, run: Any, takes_account: bool = True) -> None:
    @click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def command(app: App, dry_run: bool, as_json: bool, **args: Any) -> None:
        repairs = Repairs(app.couch, app.store(), Services(app.couch, app.rules().classify))
        with app.announcing():
            found = run(repairs, dry_run=dry_run, **args)
        _show(found if isinstance(found, list) else [found], as_json)

    if takes_account:
        command = click.option("--account", "accounts", multiple=True,
                               help="Only this account (repeatable; default: all).")(command)
    command.__doc__ = doc
    repair.command(name)(command)


_repair_command("copy-number-dbs-to-accounts",
                "Write each assigned number's copy into its owner's account database.",
                lambda r, dry_run, accounts: r.copy_number_dbs_to_accounts(list(accounts),
                                                                           dry_run))
_repair_command("remove-wrong-assigned-from-accounts",
                "Delete account copies of numbers owned by another account.",
                lambda r, dry_run, accounts: r.remove_wrong_assigned_from_accounts(
                    list(accounts), dry_run))
_repair_command("fix-apps-for-account",
                "Set used_by from the owner's callflows and trunkstore.",
                lambda r, dry_run, accounts: r.fix_apps(list(accounts), dry_run))
_repair_command("purge-discovery", "Delete every discovery number document.",
                lambda r, dry_run: r.purge("discovery", None, dry_run), takes_account=False)
_repair_command("purge-deleted", "Delete every number document in state deleted.",
                lambda r, dry_run: r.purge("deleted", None, dry_run), takes_account=False)


@repair.command("fix-account-db-numbers")
@click.argument("account")
@click.option("--dry-run", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def fix_account_db_numbers(app: App, account: str, dry_run: bool, as_json: bool) -> None:
    """All of KAZOO's fix for ACCOUNT: used_by, copies, wrong copies, quantities."""
    repairs = Repairs(app.couch, app.store(), Services(app.couch, app.rules().classify))
    with app.announcing():
        _show(repairs.fix_account_db_numbers(account, dry_run), as_json)


# --- port requests -------------------------------------------------------------------------

@click.group()
def port() -> None:
    """Port requests (the port_requests database)."""


@port.command("show")
@click.argument("port_id")
@click.pass_obj
def port_show(app: App, port_id: str) -> None:
    """A port request as stored."""
    emit(PortRequests(app.ops()).get(port_id), True)


@port.command("transition")
@click.argument("port_id")
@click.argument("state", type=click.Choice(["submitted", "pending", "scheduled", "completed",
                                            "rejected", "canceled"]))
@click.option("--auth-by", default="system", show_default=True)
@click.option("--reason", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def port_transition(app: App, port_id: str, state: str, auth_by: str, reason: str | None,
                    as_json: bool) -> None:
    """Move PORT_ID to STATE; `completed` brings its numbers into the account."""
    with app.announcing():
        doc = PortRequests(app.ops()).transition(port_id, state, auth_by, reason)
    created = doc.get("numbers_created") or {}
    emit(doc, as_json, f"{port_id}: now {state}"
         + "".join(f"\n  {n}  {s}, ported in" for n, s in sorted(created.items())))
