"""A fast yes for valid documents: the JSON Schema keywords kzcarrier's schemas use, compiled
into plain Python checks.

jsonschema remains the judge: `compile_check(schema)` returns a function that answers True
only when the document is valid, and False when it is not *or may not be*; the caller then
asks jsonschema, which also words the errors. A schema with any keyword outside the small
set below compiles to None (always ask jsonschema). Validating the number document of every
request with jsonschema alone was the largest CPU cost of the engine's fast path.
"""
from __future__ import annotations

import re
from typing import Any, Callable

Check = Callable[[Any], bool]

ANNOTATIONS = {"$id", "$schema", "$defs", "title", "description", "default", "examples",
               "$comment"}
TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}


class Unsupported(Exception):
    pass


def compile_check(schema: Any) -> Check | None:
    try:
        return _compile(schema)
    except Unsupported:
        return None


def _compile(schema: Any) -> Check:
    if schema is True or schema == {}:
        return lambda v: True
    if not isinstance(schema, dict):
        raise Unsupported(repr(schema))
    checks: list[Check] = []
    for key, arg in schema.items():
        if key in ANNOTATIONS or key in ("properties", "additionalProperties"):
            continue
        checks.append(_keyword(key, arg, schema))
    if "properties" in schema or "additionalProperties" in schema:
        checks.append(_object(schema.get("properties", {}), schema.get("additionalProperties",
                                                                       True)))
    return lambda v: all(check(v) for check in checks)


def _keyword(key: str, arg: Any, schema: dict[str, Any]) -> Check:
    if key == "type":
        names = arg if isinstance(arg, list) else [arg]
        if not all(n in TYPES for n in names):
            raise Unsupported(f"type {arg!r}")
        tests = [TYPES[n] for n in names]
        return lambda v: any(t(v) for t in tests)
    if key == "required":
        return lambda v: not isinstance(v, dict) or all(k in v for k in arg)
    if key in ("enum", "const"):
        values = arg if key == "enum" else [arg]
        if not all(isinstance(x, str) for x in values):
            raise Unsupported(f"{key} of non-strings")   # JSON equality of 1 and true...
        allowed = set(values)
        return lambda v: isinstance(v, str) and v in allowed
    if key == "minLength":
        return lambda v: not isinstance(v, str) or len(v) >= arg
    if key == "maxLength":
        return lambda v: not isinstance(v, str) or len(v) <= arg
    if key == "pattern":
        rx = re.compile(arg)
        return lambda v: not isinstance(v, str) or rx.search(v) is not None
    if key == "items":
        each = _compile(arg)
        return lambda v: not isinstance(v, list) or all(each(x) for x in v)
    if key == "anyOf":
        options = [_compile(s) for s in arg]
        return lambda v: any(o(v) for o in options)
    raise Unsupported(key)


def _object(properties: dict[str, Any], additional: Any) -> Check:
    props = {name: _compile(sub) for name, sub in properties.items()}
    if additional is True or additional == {}:
        extra: Check | None | bool = None      # anything goes
    elif additional is False:
        extra = False                          # nothing else
    else:
        extra = _compile(additional)

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for name, value in v.items():
            sub = props.get(name)
            if sub is not None:
                if not sub(value):
                    return False
            elif extra is False or (callable(extra) and not extra(value)):
                return False
        return True

    return check
