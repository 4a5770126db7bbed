"""`kzcarrier`: the admin command line, a thin click layer over the library.

Every kzcarrier error becomes one line on stderr and a non-zero exit code (no traceback):
1 for a refused operation or bad input, 3 when CouchDB cannot be reached. Each command group
lives in its own module; this one builds the root group and registers them.
"""
from __future__ import annotations

import click

from .. import __version__
from ..app import DEFAULT_COUCH_URL, App, Settings
from . import carriers, config, engine, numbers, services, sync, toolkit
from .common import KzGroup


@click.group(cls=KzGroup)
@click.version_option(__version__, prog_name="kzcarrier")
@click.option("--couch-url", envvar="KZCARRIER_COUCH_URL", default=DEFAULT_COUCH_URL,
              show_default=True, help="CouchDB URL, credentials in it if needed "
              "(env KZCARRIER_COUCH_URL).")
@click.option("--node", envvar="KZCARRIER_NODE", default=None,
              help="Node name whose system_config sections apply (env KZCARRIER_NODE).")
@click.option("--zone", envvar="KZCARRIER_ZONE", default=None,
              help="Zone whose system_config sections apply under the node's "
              "(KAZOO's KAZOO_ZONE; env KZCARRIER_ZONE).")
@click.option("--amqp-url", envvar="KZCARRIER_AMQP_URL", default=None,
              help="KAZOO's broker (amqp://user:pw@host:5672/vhost): every document written "
              "is announced as KAZOO announces it, so its caches flush. Off when unset "
              "(env KZCARRIER_AMQP_URL).")
@click.pass_context
def cli(ctx: click.Context, couch_url: str, node: str | None, zone: str | None,
        amqp_url: str | None) -> None:
    """kzcarrier: KAZOO's number manager, CouchDB-native."""
    ctx.obj = App(Settings(couch_url=couch_url, node=node, zone=zone, amqp_url=amqp_url))


for _command in (config.init, config.config, numbers.db, numbers.number, engine.watch,
                 engine.status, engine.request, engine.up, carriers.search_cmd,
                 carriers.check_cmd, carriers.carriers_info_cmd, carriers.simulate,
                 carriers.stock, sync.sync, services.services, toolkit.repair, toolkit.port):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="kzcarrier")


if __name__ == "__main__":
    main()
