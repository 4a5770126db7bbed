"""What every kzcarrier command shares: output, exit codes, one-line errors."""
from __future__ import annotations

import json
from typing import Any

import click

from ..errors import CouchUnavailable, KzError

EXIT_ERROR = 1
EXIT_UNAVAILABLE = 3


def emit(data: Any, as_json: bool, text: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(text if text is not None else json.dumps(data, indent=2, sort_keys=True))


class KzGroup(click.Group):
    """Turns kzcarrier errors into one-line messages with an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CouchUnavailable as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_UNAVAILABLE)
        except KzError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
