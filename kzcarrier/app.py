"""The application object: settings built once at the edge, and what they connect to.

`Settings` is the only place configuration from the outside (CLI options, environment)
lands; everything below receives an `App` or its parts.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Iterator

from .couch.client import Couch, DesignDoc
from .model.config import NUMBER_MANAGER, Config
from .model.schemas import resource_dir
from .numbers import NumberRules

if TYPE_CHECKING:
    from .ops.operations import Ops
    from .ops.store import NumberStore

DEFAULT_COUCH_URL = "http://127.0.0.1:15984"  # where `kzcarrier up` runs the embedded server


@dataclass(frozen=True)
class Settings:
    couch_url: str = DEFAULT_COUCH_URL
    node: str | None = None
    zone: str | None = None
    timeout: float = 30.0
    amqp_url: str | None = None     # announce writes to KAZOO's broker (off when unset)


def design_documents() -> list[DesignDoc]:
    """The CouchDB design documents in design_docs/ (other JSON there, such as the Grafana
    dashboard, is not one)."""
    docs = [DesignDoc.load(p) for p in sorted(resource_dir("design_docs").glob("*.json"))]
    return [d for d in docs if str(d.doc.get("_id", "")).startswith("_design/")]


class App:
    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def couch(self) -> Couch:
        couch = Couch(self.settings.couch_url, timeout=self.settings.timeout,
                      design_docs=design_documents())
        if self.settings.amqp_url:
            from .amqp.outbox import Outbox

            couch.observers.append(Outbox(couch).record)
        return couch

    @contextmanager
    def announcing(self) -> Iterator[None]:
        """Around a command that writes: with an AMQP URL, a publisher drains the outbox
        while it runs and once more at the end (bounded); without one, nothing."""
        if not self.settings.amqp_url:
            yield
            return
        from .amqp.outbox import Outbox
        from .amqp.publisher import Publisher

        publisher = Publisher(Outbox(self.couch), self.settings.amqp_url).start()
        try:
            yield
        finally:
            publisher.stop()

    @cached_property
    def config(self) -> Config:
        return Config(self.couch, node=self.settings.node, zone=self.settings.zone)

    def rules(self) -> NumberRules:
        """Number rules from the live `number_manager` configuration."""
        return NumberRules.from_config(self.config.section(NUMBER_MANAGER))

    def ops(self) -> "Ops":
        from .ops.operations import Ops

        return Ops(self.couch, self.config)

    def store(self) -> "NumberStore":
        from .ops.store import NumberStore

        return NumberStore(self.couch, self.rules(),
                           self.config.get(NUMBER_MANAGER, "available_module_name"))

    def init(self) -> dict[str, list[str]]:
        """Idempotent set-up: config defaults, and design documents in every KAZOO database."""
        created = self.config.init_defaults()
        ddocs: dict[str, list[str]] = {}
        for db in self.couch.all_dbs():
            written = self.couch.install_design_docs(db)
            if written:
                ddocs[db] = written
        return {"config_created": created,
                "design_docs": [f"{db}/{d}" for db, ws in ddocs.items() for d in ws]}
