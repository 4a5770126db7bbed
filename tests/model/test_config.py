"""system_config lookup order, account overrides, reseller fallback, validation, masking."""
import pytest

from kzcarrier.errors import ConfigError, SchemaError
from kzcarrier.model.config import MASK, Config, mask_secrets, parse_value

ACCT1 = "account0000000000000000000000001"   # reseller, super-duper admin
ACCT3 = "account0000000000000000000000003"   # reseller_id = account 2
ACCT2 = "account0000000000000000000000002"


def test_builtin_defaults_when_nothing_is_stored(app):
    cfg = app.config
    assert cfg.get("number_manager", "available_module_name") == "knm_local"
    assert cfg.get("number_manager", "maximum_search_quantity") == 500
    assert cfg.get("number_manager", "carrier_modules") == ["knm_local"]
    assert cfg.get("number_manager", "no_such_key", "fallback") == "fallback"
    assert app.couch.get("system_config", "number_manager", missing_ok=True) is None  # reads write nothing


def test_node_section_then_default_then_builtin(app):
    app.config.set("number_manager", "released_state", "aging")
    app.config.set("number_manager", "released_state", "released", node="kzc@node1")
    assert Config(app.couch).get("number_manager", "released_state") == "aging"
    assert Config(app.couch, node="kzc@node1").get("number_manager", "released_state") == "released"
    assert Config(app.couch, node="kzc@other").get("number_manager", "released_state") == "aging"
    assert Config(app.couch, node="kzc@node1").get("number_manager", "should_age") is False


def test_zone_section_sits_between_node_and_default(app):
    """`kapps_config:get`: node, then zone, then default."""
    app.config.set("number_manager", "released_state", "aging")
    app.config.set("number_manager", "released_state", "released", node="zone-east")
    app.config.set("number_manager", "should_age", True, node="zone-east")
    app.config.set("number_manager", "should_age", False, node="kzc@node1")
    east = Config(app.couch, zone="zone-east")
    assert east.get("number_manager", "released_state") == "released"
    both = Config(app.couch, node="kzc@node1", zone="zone-east")
    assert both.get("number_manager", "released_state") == "released"   # from the zone
    assert both.get("number_manager", "should_age") is False            # the node wins
    assert Config(app.couch, zone="zone-west").get("number_manager", "released_state") \
        == "aging"


def test_set_keeps_other_keys_and_fields_of_the_document(app):
    app.couch.ensure_db("system_config")
    app.couch.put("system_config", {"_id": "number_manager", "default": {"x_custom": 1},
                                    "pvt_node": "kazoo_apps@k1"})
    app.config.set("number_manager", "should_age", True)
    doc = app.couch.get("system_config", "number_manager")
    assert doc["default"] == {"x_custom": 1, "should_age": True}
    assert doc["pvt_node"] == "kazoo_apps@k1"


def test_set_validates_against_the_schema_and_writes_nothing_on_error(app):
    with pytest.raises(SchemaError, match="maximum_search_quantity"):
        app.config.set("number_manager", "maximum_search_quantity", "lots")
    assert app.couch.get("system_config", "number_manager", missing_ok=True) is None


def test_unknown_category_is_refused(app):
    with pytest.raises(ConfigError, match="unknown config category 'number_manager.nope'"):
        app.config.get("number_manager.nope", "x")
    with pytest.raises(ConfigError):
        app.config.set("numbermanager", "x", 1)


def test_account_override_and_reseller_fallback(loaded):
    cfg = loaded.config
    # account 3 has its own configs_number_manager with carrier_modules
    assert cfg.get_global(ACCT3, "number_manager", "carrier_modules") == ["knm_local",
                                                                          "knm_bandwidth2"]
    # account 1 (a reseller) sets cnam_provider; account 4's reseller is account 2, which has
    # no override: system value (built-in default absent -> given default)
    assert cfg.get_global(ACCT1, "number_manager", "cnam_provider") == "knm_telnyx_cnam"
    assert cfg.reseller_of(ACCT3) == ACCT2
    assert cfg.reseller_of(ACCT1) == ACCT1
    # get_from_reseller skips the account's own document
    assert cfg.get_from_reseller(ACCT3, "number_manager", "carrier_modules") == ["knm_local"]
    # the system value is used when no account document says anything
    cfg.set("number_manager", "carrier_modules", ["knm_local", "knm_telnyx"])
    assert cfg.get_global(ACCT2, "number_manager", "carrier_modules") == ["knm_local",
                                                                          "knm_telnyx"]


def test_fixture_carrier_config_is_read(loaded):
    assert loaded.config.get("number_manager.vitelity", "routesip") == "192.0.2.10"
    assert loaded.config.get("number_manager", "port_in_module_name") == "knm_local"


def test_secrets_are_masked_at_any_depth():
    shown = mask_secrets({"login": "me", "pass": "s3", "api_password": "x", "token": "t",
                          "nested": {"auth_password": "y", "developer_key": "k"},
                          "empty_password": ""})
    assert shown == {"login": "me", "pass": MASK, "api_password": MASK, "token": MASK,
                     "nested": {"auth_password": MASK, "developer_key": MASK},
                     "empty_password": ""}


def test_cli_values_parse_as_json_first():
    assert parse_value("true") is True and parse_value("5") == 5
    assert parse_value('["knm_local"]') == ["knm_local"] and parse_value("knm_local") == "knm_local"
