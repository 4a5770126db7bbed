"""JSON Schemas: what they accept, and errors that name the field and the problem."""
import json

import pytest

from kzcarrier.errors import SchemaError
from kzcarrier.model import schemas


def test_every_fixture_number_document_is_valid(fixtures_dir):
    paths = list((fixtures_dir / "dbs").glob("numbers%2F*/docs/*.json")) + \
        list((fixtures_dir / "migrations").glob("*.json"))
    for path in paths:
        schemas.validate("number", json.loads(path.read_text()), path.name)
    assert len(paths) >= 30


def test_request_errors_name_the_field():
    good = {"id": "r1", "operation": "move",
            "options": {"assign_to": "a" * 32, "auth_by": "system", "dry_run": False}}
    schemas.validate("pvt_request", good)
    with pytest.raises(SchemaError) as exc:
        schemas.validate("pvt_request", {"id": "", "operation": "buy",
                                         "options": {"auth_by": "someone", "colour": "red"}})
    fields = {path for path, _ in exc.value.errors}
    assert {"id", "operation", "options", "options.auth_by"} <= fields
    assert "'buy' is not one of" in str(exc.value)
    assert "'colour' was unexpected" in str(exc.value)


def test_number_document_with_request_is_checked_through_the_reference():
    with pytest.raises(SchemaError, match="pvt_request.operation"):
        schemas.validate("number", {"_id": "+14155550100",
                                    "pvt_request": {"id": "x", "operation": "nope"}})
    with pytest.raises(SchemaError, match="_id"):
        schemas.validate("number", {"_id": "4155550100"})


def test_number_manager_config_sections_and_defaults():
    schemas.validate("system_config.number_manager",
                     {"_id": "number_manager", "default": {"should_age": True},
                      "kazoo_apps@k1": {"carrier_modules": ["knm_local"]}, "pvt_type": "config"})
    with pytest.raises(SchemaError, match="kazoo_apps@k1.carrier_modules"):
        schemas.validate("system_config.number_manager",
                         {"_id": "number_manager", "kazoo_apps@k1": {"carrier_modules": "x"}})
    defaults = schemas.section_defaults("system_config.number_manager")
    assert defaults["released_state"] == "available" and defaults["number_search_timeout_ms"] == 5000
