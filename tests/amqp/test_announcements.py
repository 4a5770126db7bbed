"""Every document kzcarrier writes is announced on a real RabbitMQ as KAZOO announces it, so
a KAZOO cache listener flushes; a broker that is away loses nothing and blocks nothing."""
import pytest
from click.testing import CliRunner
from conftest import Consumer
from engine_helpers import FAST, db_of, request

from kzcarrier.amqp.outbox import Outbox
from kzcarrier.amqp.publisher import Publisher
from kzcarrier.app import App, Settings
from kzcarrier.cli.main import cli
from kzcarrier.engine.admin import status
from kzcarrier.engine.watcher import Watcher

MASTER, RESELLER, CHILD = (f"account{n:025d}" for n in (1, 2, 3))
AVAILABLE = "+15551239876"


@pytest.fixture
def announcing(loaded, broker):
    """An application writing through the same server, with the broker configured."""
    return App(Settings(couch_url=loaded.settings.couch_url, amqp_url=broker.url))


def test_a_moved_number_is_announced_where_kazoos_number_cache_listens(loaded, broker):
    numbers = Consumer(broker.url, "*.*.number.*")      # knm_cache's binding
    everything = Consumer(broker.url, "#")              # kazoo_data_cache's
    out = CliRunner().invoke(cli, ["--couch-url", loaded.settings.couch_url, "--amqp-url",
                                   broker.url, "number", "move", AVAILABLE, "--assign-to",
                                   CHILD, "--auth-by", MASTER])
    assert out.exit_code == 0, out.output
    doc = loaded.couch.get(db_of(AVAILABLE), AVAILABLE)
    [(key, body, content_type)] = [m for m in numbers.take(2, timeout=10)
                                   if m[1]["Database"] == "numbers%2F%2B1555"]
    assert key == "doc_edited.numbers%2F%2B1555.number.%2B15551239876"
    assert content_type == "application/json"
    assert (body["Event-Category"], body["Event-Name"], body["ID"], body["Rev"],
            body["Type"]) == ("configuration", "doc_edited", AVAILABLE, doc["_rev"], "number")
    # the account copy is announced too, with its account
    seen = everything.take(2, timeout=10)
    copies = [b for _, b, _ in seen if b["Database"].startswith("account%2F")]
    assert copies and copies[0]["Account-ID"] == CHILD
    assert "password" not in out.output and "guest:guest" not in out.output
    numbers.close()
    everything.close()


def test_a_broker_away_loses_nothing_and_blocks_nothing(loaded, broker, announcing):
    c = announcing.couch
    nums = [f"+1555987{i:04d}" for i in range(5)]
    for num in nums:
        request(c, num, "create", auth_by=MASTER, assign_to=RESELLER)
    broker.stop()
    publisher = Publisher(Outbox(c), broker.url, retry_s=0.2)
    try:
        Watcher(c, announcing.config, FAST).run(once=True)
        # every request completed while the broker was away
        assert all(c.get(db_of(n), n)["pvt_request_state"]["status"] == "completed"
                   for n in nums)
        assert publisher.drain_quietly() == 0 and publisher.failures == 1
        waiting = status(c)["journal"]["announcements_pending"]
        assert waiting >= len(nums)                 # numbers and their account copies
        broker.start()                               # restarted: exchange and queues gone
        consumer = Consumer(broker.url, "*.numbers%2F%2B1555.number.*")
        publisher.start()
        got = consumer.take(len(nums), timeout=30)
        assert sorted(b["ID"] for _, b, _ in got) == nums
        assert all(b["Rev"] == c.get(db_of(b["ID"]), b["ID"])["_rev"] for _, b, _ in got)
        consumer.close()
    finally:
        publisher.stop()
    assert status(c)["journal"]["announcements_pending"] == 0
    assert publisher.failures >= 1 and publisher.published >= len(nums)
