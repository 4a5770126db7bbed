"""`kzcarrier sync ...`: living beside an existing KAZOO cluster."""
from __future__ import annotations

import sys
import time

import click

from ..app import App
from ..couch.client import Couch
from .common import EXIT_ERROR, emit


@click.group()
def sync() -> None:
    """Live beside an existing KAZOO cluster: pull, push, replicate, verify."""


def _other(url: str) -> Couch:
    return Couch(url)


def _copy(source: Couch, target: Couch, dry_run: bool, as_json: bool) -> None:
    from ..sync.pull import Copier

    copier = Copier(source, target, dry_run=dry_run)
    with click.progressbar(length=copier.total(), label="syncing", file=sys.stderr,
                           hidden=as_json) as bar:
        copier.progress = bar.update
        report = copier.run()
    data = report.to_json()
    verb = "would copy" if dry_run else "copied"
    lines = [f"{report.databases} databases: {verb} {report.copied}, skipped {report.skipped} "
             f"unchanged, deleted {report.deleted}, converted {report.converted} 3.x "
             f"summaries, failed {len(report.failed)}"]
    lines += [f"  failed {d}/{i}: {r}" for d, i, r in report.failed]
    emit(data, as_json, "\n".join(lines))
    if report.failed:
        sys.exit(EXIT_ERROR)


@sync.command("pull")
@click.option("--from", "source_url", required=True, help="The KAZOO cluster's CouchDB URL.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def sync_pull(app: App, source_url: str, dry_run: bool, as_json: bool) -> None:
    """Copy KAZOO's number data into kzcarrier's CouchDB (resumable, idempotent)."""
    _copy(_other(source_url), app.couch, dry_run, as_json)


@sync.command("push")
@click.option("--to", "target_url", required=True, help="The KAZOO cluster's CouchDB URL.")
@click.option("--dry-run", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def sync_push(app: App, target_url: str, dry_run: bool, as_json: bool) -> None:
    """Copy kzcarrier's number data into a KAZOO cluster's CouchDB."""
    _copy(app.couch, _other(target_url), dry_run, as_json)


@sync.command("verify")
@click.option("--kazoo", "kazoo_url", required=True, help="The KAZOO cluster's CouchDB URL.")
@click.option("--fix", "do_fix", is_flag=True, help="Repair the side named by --side.")
@click.option("--side", type=click.Choice(["kzcarrier", "kazoo"]), default="kzcarrier",
              show_default=True, help="Whose account copies are checked, and which is fixed.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def sync_verify(app: App, kazoo_url: str, do_fix: bool, side: str, as_json: bool) -> None:
    """Compare both sides number by number; with --fix, repair one side."""
    from ..sync.verify import fix, verify

    kazoo = _other(kazoo_url)
    diffs = verify(kazoo, app.couch, side)
    changes = fix(kazoo, app.couch, diffs, side) if do_fix and diffs else []
    data = {"differences": [d.to_json() for d in diffs], "fixed": changes}
    lines = [d.line() for d in diffs] or ["no differences"]
    if changes:
        lines.append(f"fixed on the {side} side: {len(changes)} change(s)")
        lines += [f"  {c['number']}: {c.get('fixed') or c.get('left')}" for c in changes]
    emit(data, as_json, "\n".join(lines))
    if diffs and not do_fix:
        sys.exit(EXIT_ERROR)


@sync.command("replicate")
@click.option("--kazoo", "kazoo_url", required=True, help="The KAZOO cluster's CouchDB URL.")
@click.option("--direction", type=click.Choice(["pull", "push", "both"]), default="both",
              show_default=True)
@click.option("--follow", is_flag=True, help="Keep adding replications for new databases.")
@click.option("--interval", default=30.0, show_default=True, help="Seconds between --follow checks.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def sync_replicate(app: App, kazoo_url: str, direction: str, follow: bool, interval: float,
                   as_json: bool) -> None:
    """Set up continuous replication with CouchDB's replicator (_replicator documents)."""
    from ..sync.replicate import ensure

    kazoo = _other(kazoo_url)
    while True:
        result = ensure(kazoo, app.couch, direction)
        emit(result, as_json, f"replications: {len(result['created'])} created, "
             f"{len(result['updated'])} updated, {len(result['unchanged'])} unchanged")
        if not follow:
            return
        time.sleep(interval)


@sync.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def sync_status(app: App, as_json: bool) -> None:
    """Each kzcarrier replication's state (from _scheduler/docs)."""
    from ..sync.replicate import status as replication_status

    rows = replication_status(app.couch)
    lines = [f"{r['id']:<40} {r['state']:<12} {r['source']} -> {r['target']}" for r in rows]
    emit(rows, as_json, "\n".join(lines) or "no kzcarrier replications on this server")
