"""A real RabbitMQ for the announcement tests: Debian's rabbitmq-server (installed by
scripts/setup where the machine can install packages), started here on a free loopback
port with its own data directory. Where it is missing the tests are skipped, saying why."""
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pika
import pytest

# Debian's wrapper switches to the rabbitmq user; the server script itself runs as we are
SERVER = next((p for p in ("/usr/lib/rabbitmq/bin/rabbitmq-server",) if Path(p).exists()),
              None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, base: Path):
        self.base = base
        self.port, self.dist = free_port(), free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        self.proc: subprocess.Popen | None = None

    def start(self, wait: float = 90) -> "Broker":
        (self.base / "log").mkdir(parents=True, exist_ok=True)
        (self.base / "enabled_plugins").write_text("[].\n")
        env = {**os.environ, "HOME": str(self.base), "RABBITMQ_NODE_PORT": str(self.port),
               "RABBITMQ_DIST_PORT": str(self.dist), "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
               "RABBITMQ_NODENAME": f"kzc{self.port}@localhost",
               "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
               "RABBITMQ_LOG_BASE": str(self.base / "log"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
               "RABBITMQ_PID_FILE": str(self.base / "pid")}
        self.proc = subprocess.Popen([SERVER], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                pika.BlockingConnection(pika.URLParameters(self.url)).close()
                return self
            except Exception:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("rabbitmq-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(30)
            self.proc = None


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    if not SERVER:
        pytest.skip("rabbitmq-server is not installed (scripts/setup installs Debian's "
                    "package where it can): the AMQP announcement tests need a real broker")
    b = Broker(tmp_path_factory.mktemp("rabbitmq")).start()
    yield b
    b.stop()


class Consumer:
    """Bound like a KAZOO cache listener: an anonymous queue on `configuration`."""

    def __init__(self, url: str, *keys: str):
        self.conn = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.conn.channel()
        self.channel.exchange_declare("configuration", exchange_type="topic", durable=False,
                                      auto_delete=False)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        for key in keys:
            self.channel.queue_bind(self.queue, "configuration", routing_key=key)

    def take(self, count: int, timeout: float = 15) -> list[tuple[str, dict, str]]:
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            method, props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                self.conn.sleep(0.05)
                continue
            got.append((method.routing_key, json.loads(body), props.content_type))
        return got

    def close(self) -> None:
        self.conn.close()
