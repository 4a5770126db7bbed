"""`kzcarrier`: the admin command line, a thin click layer over the library.

Every kzcarrier error becomes one line on stderr and a non-zero exit code (no traceback):
1 for a refused operation or bad input, 3 when CouchDB cannot be reached.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from ..app import DEFAULT_COUCH_URL, App, Settings
from ..couch.client import redact
from ..errors import KzError
from ..model.config import NUMBER_MANAGER, mask_secrets, parse_value
from ..ops.store import NumberStore
from ..sync.loader import load_directory
from .common import EXIT_ERROR, KzGroup, emit


@click.group(cls=KzGroup)
@click.option("--couch-url", envvar="KZCARRIER_COUCH_URL", default=DEFAULT_COUCH_URL,
              show_default=True, help="CouchDB URL, credentials in it if needed "
              "(env KZCARRIER_COUCH_URL).")
@click.option("--node", envvar="KZCARRIER_NODE", default=None,
              help="Node name whose system_config sections apply (env KZCARRIER_NODE).")
@click.pass_context
def cli(ctx: click.Context, couch_url: str, node: str | None) -> None:
    """kzcarrier: KAZOO's number manager, CouchDB-native."""
    ctx.obj = App(Settings(couch_url=couch_url, node=node))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def init(app: App, as_json: bool) -> None:
    """Create missing system_config defaults and install design documents (idempotent)."""
    result = app.init()
    emit(result, as_json, f"initialised {redact(app.settings.couch_url)}: "
         f"config created {result['config_created'] or 'none'}, "
         f"{len(result['design_docs'])} design documents installed or updated")


@cli.group()
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


@cli.group()
def number() -> None:
    """Number documents and operations."""


@number.command("show")
@click.argument("num")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def number_show(app: App, num: str, as_json: bool) -> None:
    """Show NUM's document in the KAZOO 4.x/5.x shape."""
    store = NumberStore(app.couch, app.rules(),
                        app.config.get(NUMBER_MANAGER, "available_module_name"))
    pn = store.fetch(num)
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
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def command(app: App, numbers: tuple[str, ...], assign_to: str | None, auth_by: str,
                dry_run: bool, module_name: str | None, public_fields: str | None,
                mdn_run: bool, as_json: bool, **more: Any) -> None:
        from ..ops.operations import Options

        fields = parse_value(public_fields) if public_fields is not None else None
        if fields is not None and not isinstance(fields, dict):
            raise KzError("--public-fields must be a JSON object")
        opts = Options(auth_by=auth_by, assign_to=assign_to, dry_run=dry_run,
                       module_name=module_name, public_fields=fields, mdn_run=mdn_run,
                       **{k: v for k, v in more.items() if v not in (None, False)})
        result = app.ops().perform(operation, list(numbers), opts)
        data = result.to_json()
        lines = []
        for num, outcome in result.outcomes.items():
            if outcome.error is not None:
                err = outcome.error.to_json()
                lines.append(f"{num}  FAILED  {err['code']} {err['error']}: {err['message']}"
                             + (f" ({err['cause']})" if err.get("cause") else ""))
            else:
                action = f"  carrier: {outcome.carrier_action}" if outcome.carrier_action else ""
                verb = "would be" if dry_run else "now"
                lines.append(f"{num}  {verb} {outcome.to_state}  "
                             f"owner={outcome.assigned_to or '-'}  "
                             f"module={outcome.module_name}{action}")
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
_number_op("update", [click.option("--ported-in", is_flag=True)])
_number_op("assign_to_app", [click.option("--used-by", required=True, help="Application.")])
_number_op("transition", [click.option("--state", required=True,
                                       type=click.Choice(["in_service", "reserved", "available",
                                                          "aging", "port_in"]))])


@cli.group()
def config() -> None:
    """system_config/number_manager[.carrier]."""


@config.command("get")
@click.argument("category")
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def config_get(app: App, category: str, key: str | None, as_json: bool) -> None:
    """Effective CATEGORY settings (node, then default, then built-in); secrets masked."""
    section = app.config.section(category)
    if key is None:
        emit(mask_secrets(section), True)
        return
    if key not in section:
        raise KzError(f"{category} has no key {key!r} (not set, no built-in default)")
    value = mask_secrets({key: section[key]})[key]
    emit(value, as_json, value if isinstance(value, str) else json.dumps(value))


@config.command("set")
@click.argument("category")
@click.argument("key")
@click.argument("value")
@click.option("--node", "scope", default=None, help="Write the node's section, not default.")
@click.pass_obj
def config_set(app: App, category: str, key: str, value: str, scope: str | None) -> None:
    """Set KEY to VALUE (JSON if it parses, else a string) in CATEGORY."""
    app.config.set(category, key, parse_value(value), node=scope)
    shown = mask_secrets({key: parse_value(value)})[key]
    click.echo(f"{category} {scope or 'default'}.{key} = {json.dumps(shown)}")


@cli.command()
@click.option("--once", is_flag=True, help="Process every pending request, then exit.")
@click.option("--pool", "pool_size", default=16, show_default=True,
              help="Requests handled at once.")
@click.option("--sweep-interval", default=30.0, show_default=True,
              help="Seconds between sweeps of the request index.")
@click.option("--worker-id", default=None, help="Name of this worker (default: host-pid-random).")
@click.option("--heartbeat-interval", default=5.0, show_default=True,
              help="Seconds between worker heartbeats; a worker silent for three is gone.")
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_obj
def watch(app: App, once: bool, pool_size: int, sweep_interval: float, worker_id: str | None,
          heartbeat_interval: float, log_level: str) -> None:
    """Run the engine: follow every number database and process pvt_request documents."""
    import logging

    from ..engine.watcher import Watcher, WatchSettings

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    watcher = Watcher(app.couch, app.config,
                      WatchSettings(pool_size=pool_size, sweep_interval=sweep_interval,
                                    heartbeat_interval=heartbeat_interval,
                                    steal_after=2 * heartbeat_interval),
                      worker_id=worker_id)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: watcher.stop())
    sys.exit(watcher.run(once=once))


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(app: App, as_json: bool) -> None:
    """Requests per database (pending, running, failed, completed), claims, workers, lag."""
    from ..engine.admin import status as engine_status

    data = engine_status(app.couch)
    if as_json:
        emit(data, True)
        return
    click.echo(f"{'database':<18}{'pending':>8}{'running':>8}{'failed':>8}{'done':>8}"
               f"{'dry_run':>8}{'stale':>6}{'lag':>6}  oldest pending")
    for db, c in data["databases"].items():
        age = "-" if c["oldest_pending_age_s"] is None else f"{c['oldest_pending_age_s']}s"
        click.echo(f"{db:<18}{c['pending']:>8}{c['running']:>8}{c['failed']:>8}"
                   f"{c['completed']:>8}{c['dry_run']:>8}{c['stale_claims']:>6}"
                   f"{c['feed_lag']:>6}  {age}")
    for w in data["workers"]:
        click.echo(f"worker {w['worker']} on {w['host']}: last seen {w['last_seen_s']}s ago"
                   f"{'' if w['alive'] else ' (gone)'}")


@cli.group()
def request() -> None:
    """Operator actions on pvt_request documents."""


@request.command("retry")
@click.argument("num")
@click.pass_obj
def request_retry(app: App, num: str) -> None:
    """Make NUM's failed or stuck request pending again (same id: no double purchase)."""
    from ..engine.admin import retry

    emit(retry(app.couch, app.rules(), num), True)


@request.command("cancel")
@click.argument("num")
@click.pass_obj
def request_cancel(app: App, num: str) -> None:
    """End NUM's pending request as failed (cancelled), if it has not reached a carrier."""
    from ..engine.admin import cancel

    emit(cancel(app.couch, app.rules(), num), True)


@cli.command()
@click.option("--port", default=15984, show_default=True, help="Loopback port to serve on.")
@click.option("--data", "data_dir", default=".kzcarrier", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the server's data and logs.")
@click.option("--no-demo", is_flag=True,
              help="Do not start the carrier simulators nor run the demo.")
@click.pass_obj
def up(app: App, port: int, data_dir: Path, no_demo: bool) -> None:
    """Run kzcarrier on the embedded CouchDB-compatible server (development/demo): the
    server, initialised, and the engine watching it, until Ctrl-C. Production runs
    `kzcarrier watch` against a real CouchDB instead."""
    import logging

    from ..couch.embedded import EmbeddedServer
    from ..engine.watcher import Watcher

    logging.basicConfig(level="INFO", stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    server = EmbeddedServer(data_dir.resolve(), port=port).start()
    try:
        up_app = App(Settings(couch_url=server.url, node=app.settings.node))
        up_app.init()
        click.echo(f"kzcarrier: embedded CouchDB-compatible server on {server.url} "
                   f"(data in {data_dir}); initialised; engine watching.")
        click.echo(f"  export KZCARRIER_COUCH_URL={server.url}")
        click.echo("Write pvt_request documents or use `kzcarrier number ...`; Ctrl-C stops.")
        watcher = Watcher(up_app.couch, up_app.config)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: watcher.stop())

        def guard() -> None:
            while server.process is not None and server.process.poll() is None:
                time.sleep(1.0)
            click.echo(f"error: the embedded server stopped; see {data_dir}/stdout.txt",
                       err=True)
            watcher.stop()

        threading.Thread(target=guard, daemon=True).start()
        sims = []
        if not no_demo:
            from .. import demo

            sims = demo.start_simulators(up_app)
            click.echo("carrier simulators: " + ", ".join(f"{s.name} {s.url}" for s in sims))

            def show() -> None:
                try:
                    demo.run(up_app, click.echo)
                except Exception as exc:  # the demo is a show, never a reason to stop
                    click.echo(f"demo: failed: {type(exc).__name__}: {exc}", err=True)

            threading.Thread(target=show, daemon=True).start()
        watcher.run()
        for sim in sims:
            sim.stop()
    finally:
        server.stop()


from .carriers import check_cmd, search_cmd, simulate, stock  # noqa: E402
from .sync import sync  # noqa: E402

for _command in (search_cmd, check_cmd, simulate, stock, sync):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="kzcarrier")


if __name__ == "__main__":
    main()
