"""A run's live progress, shared by reader threads and the job thread, and its error texts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from webapp.plugin_api import ConfigInvalid, Progress, SourceError, SourceUnavailable
from webapp.runs.store import StoreFailed


def error_dict(exc: BaseException, entity: str | None = None) -> dict[str, Any]:
    """Describe a failure for a person: category, title, message, advice; never a secret."""
    if isinstance(exc, SourceError):
        return exc.to_dict()
    if isinstance(exc, SourceUnavailable):
        return {"category": "unavailable", "title": exc.title, "message": exc.message,
                "advice": list(exc.advice), "entity": entity}
    if isinstance(exc, ConfigInvalid):
        return {"category": "configuration", "title": "Invalid configuration",
                "message": str(exc), "advice": ["Edit the flow and correct this source."],
                "entity": entity}
    if isinstance(exc, StoreFailed):
        return {"category": "storage", "title": "Storing failed",
                "message": exc.public_message, "advice": [], "entity": entity}
    return {"category": "internal", "title": "Internal error",
            "message": "The source failed unexpectedly; the error has been logged.",
            "advice": [], "entity": entity}


class LiveProgress:
    """Every collection's progress, written by reader threads, read by the job thread."""

    def __init__(self, keys: list[str]) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {
            key: {"state": "pending", "fetched": 0, "total": None, "pages": 0, "retries": 0,
                  "requests": 0, "waiting_s": 0.0, "rate": None} for key in keys}
        self._started: dict[str, float] = {}
        self.version = 0

    def callback(self, node: str) -> Callable[[Progress], None]:
        def update(p: Progress) -> None:
            key = f"{node}:{p.entity}"
            now = time.monotonic()
            with self._lock:
                started = self._started.setdefault(key, now)
                elapsed = now - started
                self._items[key] = {
                    "state": p.state, "fetched": p.fetched, "total": p.total,
                    "pages": p.pages, "retries": p.retries, "requests": p.requests,
                    "waiting_s": round(p.waiting_s, 1),
                    "rate": round(p.fetched / elapsed, 1) if elapsed > 0.05 else None,
                    "error": p.error.to_dict() if p.error else None,
                }
                self.version += 1
        return update

    def get(self, key: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._items.get(key, {}))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._items.items()}
