"""JSON Schemas from schemas/: loading, validation with errors that name the field, defaults.

Kinds: `number` (a number document), `pvt_request`, `system_config.number_manager`,
`system_config.number_manager.carrier`. `resource_dir` finds the shipped files both in a
source checkout and in an installed package (share/kzcarrier/...).
"""
from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from ..errors import SchemaError
from .schema_check import compile_check


def resource_dir(name: str) -> Path:
    """`schemas` or `design_docs`: next to the package in a checkout, else under share/."""
    for base in (Path(__file__).resolve().parents[2], Path(sys.prefix) / "share" / "kzcarrier"):
        candidate = base / name
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"kzcarrier's {name}/ directory is not installed")


@lru_cache(maxsize=None)
def _registry() -> tuple[Registry, dict[str, dict[str, Any]]]:
    by_kind: dict[str, dict[str, Any]] = {}
    registry = Registry()
    for path in sorted(resource_dir("schemas").glob("*.json")):
        schema = json.loads(path.read_text())
        by_kind[path.stem] = schema
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    return registry, by_kind


def schema(kind: str) -> dict[str, Any]:
    registry, by_kind = _registry()
    if kind not in by_kind:
        raise KeyError(f"no schema {kind!r}; known: {', '.join(sorted(by_kind))}")
    return by_kind[kind]


def _inline(node: Any, by_id: dict[str, dict[str, Any]]) -> Any:
    """`node` with each `$ref` to another whole schema replaced by that schema's body (when
    it has no references of its own): resolving references on every validation was most
    of what validating a number document cost."""
    if isinstance(node, list):
        return [_inline(v, by_id) for v in node]
    if not isinstance(node, dict):
        return node
    target = by_id.get(node.get("$ref", ""))
    if target is not None and len(node) == 1 and "$ref" not in json.dumps(target):
        return {k: v for k, v in target.items() if k not in ("$id", "$schema")}
    return {k: _inline(v, by_id) for k, v in node.items()}


@lru_cache(maxsize=None)
def _validator(kind: str, pointer: str) -> Draft202012Validator:
    registry, by_kind = _registry()
    target = schema(kind)
    if not pointer:
        target = _inline(target, {s["$id"]: s for s in by_kind.values()})
    if pointer:
        target = {"$ref": f"{target['$id']}#{pointer}"}
    return Draft202012Validator(target, registry=registry)


@lru_cache(maxsize=None)
def _fast_check(kind: str, pointer: str) -> Callable[[Any], bool] | None:
    return compile_check(_validator(kind, pointer).schema)


def problems(kind: str, document: Any, pointer: str = "") -> list[tuple[str, str]]:
    """Every validation error as (dotted field path, message), most specific first."""
    fast = _fast_check(kind, pointer)
    if fast is not None and fast(document):
        return []  # certainly valid (schema_check); otherwise jsonschema decides and words it
    validator = _validator(kind, pointer)
    out = []
    for err in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in err.absolute_path)
        out.append((path, err.message))
    return out


def validate(kind: str, document: Any, what: str | None = None, pointer: str = "") -> None:
    found = problems(kind, document, pointer)
    if found:
        raise SchemaError(what or kind, found)


def section_defaults(kind: str) -> dict[str, Any]:
    """The `default` values a config section schema declares (KAZOO's built-in defaults)."""
    section = schema(kind)["$defs"]["section"]
    return {k: v["default"] for k, v in section.get("properties", {}).items() if "default" in v}
