"""`kzcarrier init` and `kzcarrier config ...`: system_config/number_manager[.carrier]."""
from __future__ import annotations

import json

import click

from ..app import App
from ..couch.client import redact
from ..errors import KzError
from ..model.config import mask_secrets, parse_value
from .common import emit


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def init(app: App, as_json: bool) -> None:
    """Create missing system_config defaults and install design documents (idempotent)."""
    result = app.init()
    emit(result, as_json, f"initialised {redact(app.settings.couch_url)}: "
         f"config created {result['config_created'] or 'none'}, "
         f"{len(result['design_docs'])} design documents installed or updated")


@click.group()
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


