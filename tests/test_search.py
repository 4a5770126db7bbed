"""Search across carriers, discovery documents, and check across carriers."""
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kzcarrier.cli.main import cli
from kzcarrier.ops.operations import Ops, Options
from kzcarrier.search import Purged, Search, normalized_prefix, purge_discovery

PLUGINS = Path(__file__).resolve().parent / "plugins"
MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))


@pytest.fixture
def plugins(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("SLOW_SEARCH", "3")


def test_prefixes_are_normalised_with_the_country_dialcode():
    assert normalized_prefix("415") == "+1415"
    assert normalized_prefix("20 79", "gb") == "+442079"
    assert normalized_prefix("+3312") == "+3312"
    with pytest.raises(Exception, match="unknown country"):
        normalized_prefix("1", "XX")


def test_fan_out_merges_sorts_pages_and_survives_slow_and_broken_carriers(loaded, plugins):
    loaded.config.set("number_manager", "number_search_timeout_ms", 800)
    ops = Ops(loaded.couch, loaded.config)
    ops.create(["+14150000001", "+14150000003"], Options(assign_to=MASTER, state="available"))
    search = Search(loaded.couch, loaded.config)
    started = time.monotonic()
    result = search.find("415", quantity=3, carriers=["local", "acme", "acme_slow",
                                                      "acme_broken"], account_id=MASTER)
    took = time.monotonic() - started
    assert took < 2.0                                   # the slow carrier was not waited for
    assert result.timed_out == ["knm_acme_slow"]
    assert "500 Internal Server Error" in result.errors["knm_acme_broken"]
    assert [e["number"] for e in result.numbers] == ["+14150000000", "+14150000001",
                                                     "+14150000002"]
    # a number two carriers offer appears once, with both offers
    both = result.numbers[1]
    assert {o["carrier"]: o["state"] for o in both["offers"]} == {
        "knm_local": "available", "knm_acme": "discovery"}
    page2 = search.find("415", quantity=3, offset=3, carriers=["local", "acme"],
                        account_id=MASTER)
    assert page2.numbers[0]["number"] == "+14150000003" and page2.total > 6


def test_quantity_is_capped(loaded, plugins):
    loaded.config.set("number_manager", "maximum_search_quantity", 4)
    result = Search(loaded.couch, loaded.config).find("415", quantity=50, carriers=["acme"])
    assert len(result.numbers) == 4


def test_stored_discovery_documents_can_be_bought_and_expire(loaded, plugins):
    from engine_helpers import request, run_once

    search = Search(loaded.couch, loaded.config)
    result = search.find("646", quantity=2, carriers=["acme"], store=True)
    assert result.stored == 2
    num = result.numbers[0]["number"]
    doc = loaded.couch.get("numbers/+1646", num)
    assert (doc["pvt_state"], doc["pvt_module_name"]) == ("discovery", "knm_acme")
    assert doc["pvt_carrier_data"] == {"acme_rate": "0.50"}
    request(loaded.couch, num, "move", assign_to=CHILD)
    run_once(loaded.couch, loaded.config)
    bought = loaded.couch.get("numbers/+1646", num)
    assert bought["pvt_state"] == "in_service"
    assert bought["pvt_carrier_data"]["acme_order"] == f"order-{num}"
    # the other one expires and is purged; the bought one stays
    later = doc["pvt_discovery_expires"] + 1
    assert purge_discovery(loaded.couch, "numbers/+1646", now=later) == Purged(1, 0)
    assert loaded.couch.get("numbers/+1646", result.numbers[1]["number"], missing_ok=True) is None
    assert loaded.couch.get("numbers/+1646", num)


def test_check_asks_carriers_in_order(loaded, plugins):
    out = Search(loaded.couch, loaded.config).check(
        ["4155550100", "+12125550100"], carriers=["acme_broken", "acme"])
    assert out == {"+14155550100": "active", "+12125550100": "error"}


def test_search_and_check_cli(loaded, plugins):
    runner = CliRunner()
    url = loaded.settings.couch_url
    out = runner.invoke(cli, ["--couch-url", url, "search", "415", "--carrier", "acme",
                              "--quantity", "2", "--json"])
    assert out.exit_code == 0, out.output
    assert [e["number"] for e in json.loads(out.output)["numbers"]] == ["+14150000000",
                                                                        "+14150000001"]
    text = runner.invoke(cli, ["--couch-url", url, "search", "415", "--carrier", "acme"]).output
    assert "knm_acme (discovery)" in text
    out = runner.invoke(cli, ["--couch-url", url, "check", "+14155550100", "--carrier", "acme"])
    assert "+14155550100  active" in out.output
    out = runner.invoke(cli, ["--couch-url", url, "search", "415", "--carrier", "nope"])
    assert out.exit_code == 1 and "unknown carrier" in out.output
