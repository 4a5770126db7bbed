"""The fast check says "valid" only where jsonschema agrees, and does say it for KAZOO's own
documents (or the engine would pay for jsonschema on every request)."""
import itertools
import json

from kzcarrier.model import schemas
from kzcarrier.model.schema_check import compile_check

ODD_VALUES = [None, 0, 7, 1.5, True, False, "", "x", "in_service", [], ["a"], {}, {"k": 1}]


def documents(fixtures_dir):
    paths = sorted((fixtures_dir / "dbs").glob("numbers%2F*/docs/*.json")) + \
        sorted((fixtures_dir / "migrations").glob("clean_*.json"))
    for path in paths:
        doc = json.loads(path.read_text())
        doc["pvt_request"] = {"id": "r1", "operation": "move",
                              "options": {"assign_to": "a" * 32, "dry_run": False}}
        yield doc


def mutations(doc):
    """Every top-level and request field replaced by values of every JSON type, removed,
    and joined by fields nobody defined."""
    for key, odd in itertools.product(list(doc), ODD_VALUES):
        yield {**doc, key: odd}
    for key in list(doc):
        yield {k: v for k, v in doc.items() if k != key}
    req = doc["pvt_request"]
    for key, odd in itertools.product(["id", "operation", "options", "colour"], ODD_VALUES):
        yield {**doc, "pvt_request": {**req, key: odd}}
    for key, odd in itertools.product(["assign_to", "auth_by", "dry_run", "state", "colour"],
                                      ODD_VALUES):
        yield {**doc, "pvt_request": {**req, "options": {**req["options"], key: odd}}}
    yield {**doc, "pvt_unheard_of": 1}


def jsonschema_errors(kind, doc):
    return list(schemas._validator(kind, "").iter_errors(doc))


def test_fast_yes_only_where_jsonschema_finds_nothing(fixtures_dir):
    fast = schemas._fast_check("number", "")
    assert fast is not None
    checked = rejected = 0
    for doc in documents(fixtures_dir):
        assert fast(doc), doc["_id"]          # documents in KAZOO's shape take the fast path
        for variant in mutations(doc):
            errors = jsonschema_errors("number", variant)
            if fast(variant):
                assert errors == [], (variant, errors)
            elif errors:
                rejected += 1
            checked += 1
    assert checked > 4000 and rejected > 1000


def test_keywords_it_does_not_know_leave_the_decision_to_jsonschema():
    assert compile_check({"type": "object", "$ref": "#/$defs/x"}) is None
    assert compile_check({"type": "integer", "minimum": 3}) is None
    assert compile_check({"enum": [1, "a"]}) is None           # 1 == True in Python
    check = compile_check({"type": "object", "additionalProperties": False,
                           "properties": {"n": {"type": "integer"}}})
    assert [check(v) for v in ({"n": 2}, {"n": 2.0}, {"n": True}, {"m": 1}, [])] == [
        True, True, False, False, False]
