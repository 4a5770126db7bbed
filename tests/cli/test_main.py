"""The admin CLI end to end (CliRunner over the real test server)."""
import json

import pytest
from click.testing import CliRunner

from kzcarrier.cli.main import cli


@pytest.fixture
def run(app):
    runner = CliRunner()

    def invoke(*args, url=None):
        result = runner.invoke(cli, ["--couch-url", url or app.settings.couch_url, *args])
        # never a traceback: either success or a clean exit with a message
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.output
        return result
    return invoke


def one_line_error(result, code, *words):
    assert result.exit_code == code, result.output
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for word in words:
        assert word in lines[0]


def test_init_is_idempotent(run, app):
    first = run("init", "--json")
    assert first.exit_code == 0
    assert json.loads(first.output)["config_created"] == ["number_manager"]
    doc = app.couch.get("system_config", "number_manager")
    assert doc["default"]["available_module_name"] == "knm_local"
    second = run("init", "--json")
    assert json.loads(second.output) == {"config_created": [], "design_docs": []}
    assert app.couch.get("system_config", "number_manager")["_rev"] == doc["_rev"]


def test_init_installs_design_docs_into_existing_kazoo_databases(run, app):
    app.couch.client.put_database(app.couch.profile.physical("numbers/+1212"))  # bare, as KAZOO may leave it
    result = run("init", "--json")
    assert "numbers/+1212/_design/numbers" in json.loads(result.output)["design_docs"]


def test_db_load_then_number_show(run, fixtures_dir):
    result = run("db", "load", str(fixtures_dir / "dbs"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["databases"] == 19 and report["failed"] == []
    shown = run("number", "show", "+15551255693", "--json")
    doc = json.loads(shown.output)
    assert doc["_id"] == "+15551255693" and doc["pvt_state"] == "in_service"
    assert doc["pvt_reserve_history"] == ["account0000000000000000000000002",
                                          "account0000000000000000000000001"]
    text = run("number", "show", "2014370855")  # normalised to +12014370855
    assert "in_service" in text.output and "migrated on read: pvt_number_state" in text.output


def test_number_show_errors(run, fixtures_dir):
    run("db", "load", str(fixtures_dir / "dbs"))
    one_line_error(run("number", "show", "12ab"), 1, "not reconcilable")
    one_line_error(run("number", "show", "+14155550000"), 1, "not found")


def test_config_get_set_with_node_and_masked_secrets(run):
    assert run("config", "get", "number_manager", "released_state").output.strip() == "available"
    assert run("config", "set", "number_manager", "should_age", "true").exit_code == 0
    assert run("config", "get", "number_manager", "should_age").output.strip() == "true"
    run("config", "set", "number_manager.telnyx", "token", "s3cr3t")
    run("config", "set", "number_manager.telnyx", "user", "me", "--node", "kzc@n1")
    shown = run("config", "get", "number_manager.telnyx")
    assert "s3cr3t" not in shown.output and json.loads(shown.output)["token"] == "********"
    assert run("config", "get", "number_manager.telnyx", "token").output.strip() == "********"
    node = run("--node", "kzc@n1", "config", "get", "number_manager.telnyx", "user")
    assert node.output.strip() == "me"
    assert "s3cr3t" not in run("config", "set", "number_manager.telnyx", "token", "x2").output


def test_bad_input_gives_one_line_errors_and_writes_nothing(run, app, tmp_path):
    one_line_error(run("config", "get", "number_manager.nope"), 1, "unknown config category")
    one_line_error(run("config", "set", "number_manager", "maximum_search_quantity", "lots"),
                   1, "maximum_search_quantity", "is not of type 'integer'")
    assert app.couch.get("system_config", "number_manager", missing_ok=True) is None
    one_line_error(run("config", "get", "number_manager", "nothing_here"), 1, "nothing_here")
    one_line_error(run("init", url="http://127.0.0.1:9"), 3, "cannot reach CouchDB")
    one_line_error(run("init", url="not-a-url"), 1, "not a CouchDB URL")
    bad = tmp_path / "numbers%2F%2B1415" / "docs"
    bad.mkdir(parents=True)
    (bad / "x.json").write_text(json.dumps({"_id": "+14155550100", "pvt_state": 7}))
    result = run("db", "load", str(tmp_path))
    assert result.exit_code == 1 and "pvt_state" in result.output
    assert app.couch.get("numbers/+1415", "+14155550100", missing_ok=True) is None


def test_number_operations(run, app, fixtures_dir):
    run("db", "load", str(fixtures_dir / "dbs"))
    reseller = "account0000000000000000000000002"
    r = run("number", "create", "+15559871234", "NOT a number", "--assign-to", reseller,
            "--auth-by", "account0000000000000000000000001", "--json")
    assert r.exit_code == 1
    data = json.loads(r.output)
    assert data["success"]["+15559871234"]["state"] == "in_service"
    assert data["error"]["NOT a number"]["error"] == "not_reconcilable"
    r = run("number", "release", "+15559871234", "--dry-run")
    assert r.exit_code == 0 and "would be deleted" in r.output and "charges: none" in r.output
    assert app.couch.get("numbers/+1555", "+15559871234")
    r = run("number", "release", "+15559871234")
    assert r.exit_code == 0 and "now deleted" in r.output
    assert app.couch.get("numbers/+1555", "+15559871234", missing_ok=True) is None
    r = run("number", "reserve", "+15551239876", "--assign-to", reseller)
    assert r.exit_code == 0 and "now reserved" in r.output
    r = run("number", "move", "+15551233322", "--assign-to", "f" * 32, "--auth-by", "f" * 32)
    assert r.exit_code == 1 and "403 forbidden" in r.output
    r = run("number", "update", "+15551239876", "--public-fields", '{"label": "x"}')
    assert r.exit_code == 0 and app.couch.get("numbers/+1555", "+15551239876")["label"] == "x"
    r = run("number", "update", "+15551239876", "--merge", "--public-fields", '{"desk": 2}')
    stored = app.couch.get("numbers/+1555", "+15551239876")
    assert r.exit_code == 0 and (stored["label"], stored["desk"]) == ("x", 2)
    one_line_error(run("number", "update", "+15551239876", "--public-fields", "[1]"), 1,
                   "JSON object")
    one_line_error(run("number", "create", "+15559871236", "--assign-to", reseller,
                       "--module-name", "nope"), 1, "unknown carrier", "knm_local")


def test_carriers_info_lists_creation_states_by_who_asks(run, fixtures_dir):
    run("db", "load", str(fixtures_dir / "dbs"))
    data = json.loads(run("carriers-info", "--json").output)
    assert data["usable_creation_states"] == ["aging", "available", "in_service", "port_in",
                                              "reserved"]
    assert "local" in data["usable_carriers"] and data["maximal_prefix_length"] <= 15
    reseller = json.loads(run("carriers-info", "--auth-by", "account0000000000000000000000002",
                              "--json").output)
    assert reseller["usable_creation_states"] == ["in_service", "reserved"]
    child = json.loads(run("carriers-info", "--auth-by", "account0000000000000000000000003",
                           "--json").output)
    assert child["usable_creation_states"] == []
