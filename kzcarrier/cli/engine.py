"""`kzcarrier watch`, `status`, `request ...` and `up`: running and operating the engine."""
from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from .. import logs
from ..app import App, Settings
from .common import emit


def _address(ctx: click.Context, param: click.Parameter, value: str | None,
             ) -> tuple[str, int] | None:
    if value is None:
        return None
    from ..engine.http import parse_address
    try:
        return parse_address(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def logging_options(fn: Any) -> Any:
    fn = click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
                      show_default=True, envvar="KZCARRIER_LOG_FORMAT",
                      help="json: one JSON object per line (env KZCARRIER_LOG_FORMAT).")(fn)
    return click.option("--log-level", default="INFO", show_default=True,
                        envvar="KZCARRIER_LOG_LEVEL")(fn)


def http_option(fn: Any) -> Any:
    return click.option("--http", default=None, callback=_address, metavar="HOST:PORT",
                        envvar="KZCARRIER_HTTP",
                        help="Serve /metrics, /healthz and /readyz there (off by default; "
                        "env KZCARRIER_HTTP).")(fn)


@contextmanager
def serving(watcher: Any, address: tuple[str, int] | None) -> Iterator[None]:
    """The engine's HTTP endpoints around `watcher.run()`, when asked for."""
    if address is None:
        yield
        return
    from ..engine.http import EngineHttp

    http = EngineHttp(watcher, *address).start()
    click.echo(f"metrics and health on {http.url} (/metrics, /healthz, /readyz)", err=True)
    try:
        yield
    finally:
        http.stop()


@click.command()
@click.option("--once", is_flag=True, help="Process every pending request, then exit.")
@click.option("--pool", "pool_size", default=16, show_default=True,
              help="Requests handled at once.")
@click.option("--sweep-interval", default=30.0, show_default=True,
              help="Seconds between sweeps of the request index.")
@click.option("--worker-id", default=None, help="Name of this worker (default: host-pid-random).")
@click.option("--heartbeat-interval", default=5.0, show_default=True,
              help="Seconds between worker heartbeats; a worker silent for three is gone.")
@click.option("--idle-sleep", default=0.5, show_default=True,
              help="Longest sleep, in seconds, between two looks at the active databases "
              "when nothing happened: how late a request is seen where no `_db_updates` "
              "or longpoll wakes the engine.")
@click.option("--no-db-updates", "no_db_updates", is_flag=True,
              help="Find requests in idle databases by looking at each in turn, not by "
              "`_db_updates` (for a CouchDB whose [global_changes] records nothing).")
@click.option("--crawl-interval", default=86400.0, show_default=True,
              help="Seconds between runs of the number crawler (aging numbers made "
              "available, expired discovery and deleted documents purged; KAZOO's "
              "crawler_timer_ms is a day); 0: off. "
              "`watch --once` crawls once before it exits.")
@logging_options
@http_option
@click.pass_obj
def watch(app: App, once: bool, pool_size: int, sweep_interval: float, worker_id: str | None,
          heartbeat_interval: float, idle_sleep: float, no_db_updates: bool,
          crawl_interval: float, log_level: str,
          log_format: str, http: tuple[str, int] | None) -> None:
    """Run the engine: follow every number database and process pvt_request documents."""
    from ..engine.watcher import Watcher, WatchSettings
    from ..toolkit.crawler import Crawler

    logs.configure(log_level, log_format)
    crawler = Crawler(app.couch, app.store(), app.config)
    watcher = Watcher(app.couch, app.config,
                      WatchSettings(pool_size=pool_size, sweep_interval=sweep_interval,
                                    heartbeat_interval=heartbeat_interval,
                                    steal_after=2 * heartbeat_interval,
                                    idle_sleep_max=idle_sleep,
                                    db_updates=not no_db_updates),
                      worker_id=worker_id,
                      chores=[(crawl_interval, crawler.run)] if crawl_interval > 0 else [])
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: watcher.stop())
    with serving(watcher, http), app.announcing():
        code = watcher.run(once=once)
    sys.exit(code)


@click.command()
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
    click.echo(f"{len(data['databases'])} of {data['databases_listed']} number databases "
               "shown (the others: no request, nothing unread)")
    journal = data.get("journal")
    if journal:
        click.echo(f"journal: {journal['open_intents']} carrier actions not yet written "
                   f"{journal['by_status'] or ''}; account copies pending: "
                   f"{journal['account_copies_pending']}; announcements waiting for the "
                   f"broker: {journal['announcements_pending']}; services documents to "
                   f"recount: {journal['services_owed']}")
    crawl = data.get("crawler")
    if crawl:
        click.echo(f"crawler (last run {crawl['finished']}, {crawl['databases']} databases): "
                   f"{crawl['aged']} aged numbers made available, {crawl['discovery_purged']} "
                   f"discovery and {crawl['deleted_purged']} deleted documents purged, "
                   f"{crawl['skipped']} left for the next crawl")
    for w in data["workers"]:
        click.echo(f"worker {w['worker']} on {w['host']}: last seen {w['last_seen_s']}s ago"
                   f"{'' if w['alive'] else ' (gone)'}")


@click.group()
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


@click.command()
@click.option("--port", default=15984, show_default=True, help="Loopback port to serve on.")
@click.option("--data", "data_dir", default=".kzcarrier", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the server's data and logs.")
@click.option("--no-demo", is_flag=True,
              help="Do not start the carrier simulators nor run the demo.")
@click.option("--server-dir", default=None, envvar="KZCARRIER_SERVER_DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Where pouchdb-server is installed (node_modules/ inside); default: the "
              "source tree's server/ (env KZCARRIER_SERVER_DIR).")
@logging_options
@http_option
@click.pass_obj
def up(app: App, port: int, data_dir: Path, no_demo: bool, server_dir: Path | None,
       log_level: str, log_format: str, http: tuple[str, int] | None) -> None:
    """Run kzcarrier on the embedded CouchDB-compatible server (development/demo): the
    server, initialised, and the engine watching it, until Ctrl-C. Production runs
    `kzcarrier watch` against a real CouchDB instead."""
    from ..couch.embedded import EmbeddedServer
    from ..engine.watcher import Watcher

    logs.configure(log_level, log_format)
    server = EmbeddedServer(data_dir.resolve(), port=port, server_dir=server_dir).start()
    try:
        up_app = App(Settings(couch_url=server.url, node=app.settings.node,
                              zone=app.settings.zone))
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
        with serving(watcher, http):
            watcher.run()
        for sim in sims:
            sim.stop()
    finally:
        server.stop()


