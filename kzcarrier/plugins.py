"""Plugins by entry points: carriers (`kzcarrier.carriers`) and feature providers
(`kzcarrier.providers`) are classes registered under their KAZOO module name."""
from __future__ import annotations

import sys
from importlib.metadata import EntryPoint, entry_points

_found: dict[str, tuple[tuple[str, ...], dict[str, EntryPoint]]] = {}


def discover(group: str, refresh: bool = False) -> dict[str, EntryPoint]:
    """The entry points of `group` by name. Reading every distribution's entry points costs
    milliseconds and the engine asks for every request: the answer is kept while `sys.path`
    stays the same (callers refresh when a name is not found, for a package installed
    since)."""
    key = tuple(sys.path)
    hit = _found.get(group)
    if refresh or hit is None or hit[0] != key:
        hit = _found[group] = (key, {ep.name: ep for ep in entry_points(group=group)})
    return hit[1]
