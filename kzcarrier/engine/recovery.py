"""What the sweep repairs beside the requests it offers: purchases the journal holds whose
number document lost its request, account copies that failed after their number was
written, and services documents not reconciled after a change. Each runs at every sweep
and costs one read when there is nothing to do."""
from __future__ import annotations

import logging
from typing import Any

from ..couch.client import Couch
from ..errors import DocNotFound, KzError, StorageError
from ..model.config import NUMBER_MANAGER, Config
from ..ops.services import Services
from ..ops.store import NumberStore
from . import protocol
from .journal import CALLED, SERVICE_DB, close, open_intents, pending_copies
from .processor import Processor

log = logging.getLogger("kzcarrier.watcher")


class Recovery:
    def __init__(self, couch: Couch, config: Config, processor: Processor):
        self.couch = couch
        self.config = config
        self.processor = processor

    def journal(self) -> int:
        """Purchases the journal holds whose number document lost the request (KAZOO
        saved the number without kzcarrier's fields; a client wrote it over): the request
        is written back from the journal, and the recorded outcome is applied, once.
        Intents whose request is there are left to the normal path. Returns how many."""
        try:
            if not self.couch.db_exists(SERVICE_DB, cached=True):
                return 0     # no carrier call was ever journalled here
            try:
                intents = open_intents(self.couch)
            except DocNotFound:   # its index is missing: install it, recover next time
                self.couch.install_design_docs(SERVICE_DB)
                return 0
        except StorageError as exc:
            log.warning("journal recovery: %s", exc)
            return 0
        ttl = self.processor.policy().claim_ttl_s
        restored = 0
        for intent in intents:
            number, db, request = intent.get("number"), intent.get("db"), intent.get("request")
            if not (number and db and isinstance(request, dict)) or intent.get("holder") and \
                    not self.processor.journal.clock.expired(intent["_id"], intent.get("lease"),
                                                             ttl):
                continue

            done: list[bool] = []

            def restore(doc: dict[str, Any] | None, request: dict[str, Any] = request,
                        done: list[bool] = done) -> dict[str, Any] | None:
                if doc is not None and protocol.request_id(doc) == request.get("id") and \
                        (protocol.own_state(doc) or {}).get("status") == "completed":
                    done.append(True)   # finished on another path: the intent is closed
                    return None
                if doc is None or protocol.request_of(doc) is not None:
                    return None   # no number, or a request is there: not the journal's call
                doc["pvt_request"] = request
                doc.pop("pvt_request_state", None)
                return doc

            try:
                if self.couch.update(db, number, restore):
                    log.warning("journal: request %s written back to %s (it was dropped)",
                                request.get("id"), number)
                    restored += 1
                elif done and intent.get("status") == CALLED:
                    close(self.couch, intent["_id"])
            except StorageError as exc:
                log.warning("journal recovery of %s: %s", number, exc)
        return restored

    def account_copies(self) -> None:
        """Account copies that failed after their number was written, brought in step."""
        try:
            if not self.couch.db_exists(SERVICE_DB, cached=True):
                return
            pending = pending_copies(self.couch)
        except StorageError as exc:
            log.warning("account copy repair: %s", exc)
            return
        if not pending:
            return
        store = NumberStore(self.couch, self.processor.rules(),
                            self.config.get(NUMBER_MANAGER, "available_module_name"))
        for doc in pending:
            try:
                if store.sync_copies(doc["number"]) is None:
                    self.couch.delete(SERVICE_DB, doc["_id"], doc["_rev"])
            except (StorageError, KzError) as exc:
                log.warning("account copies of %s: %s", doc.get("number"), exc)

    def service_quantities(self) -> None:
        """Accounts whose numbers changed and whose services document was not reconciled
        after (a crash in between): reconciled now."""
        services = Services(self.couch, self.processor.rules().classify)
        try:
            owed = services.owed()
        except StorageError as exc:
            log.warning("service quantities: %s", exc)
            return
        for account in owed:
            try:
                services.settle(account)
            except StorageError as exc:
                log.warning("service quantities of %s: %s", account, exc)
