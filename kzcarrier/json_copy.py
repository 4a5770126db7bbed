"""Copies of JSON values (dicts, lists, scalars): what `copy.deepcopy` does for documents,
without its memo and dispatch, which the engine paid for on every request."""
from __future__ import annotations

from typing import Any


def copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value
