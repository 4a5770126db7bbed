"""Per-carrier concurrency limits (`number_manager.<carrier>.max_concurrency`): a context
manager around each carrier call, shared by a watcher's pool."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from ..carriers import short_name
from ..errors import KzError
from ..model.config import Config


class Gates:
    """Per-carrier concurrency limits (`number_manager.<carrier>.max_concurrency`)."""

    def __init__(self, config: Config):
        self.config = config
        self._sems: dict[str, threading.BoundedSemaphore | None] = {}
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self, module: str) -> Iterator[None]:
        with self._lock:
            if module not in self._sems:
                try:
                    limit = self.config.get(f"number_manager.{short_name(module)}",
                                            "max_concurrency")
                except KzError:
                    limit = None
                self._sems[module] = (threading.BoundedSemaphore(int(limit))
                                      if isinstance(limit, int) and limit > 0 else None)
            sem = self._sems[module]
        if sem is None:
            yield
            return
        with sem:
            yield
