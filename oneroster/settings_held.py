"""A process-wide interpreter setting changed for as long as any of its users runs.

Several fetches, or several run writers, may run at once in one process: the first to start
changes the setting, the last to end puts back what was there before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class HeldSetting(Generic[T]):
    """Read a setting, change it while held, and restore it when the last holder lets go."""

    def __init__(self, read: Callable[[], T], write: Callable[[T], None],
                 change: Callable[[T], T]) -> None:
        self._read, self._write, self._change = read, write, change
        self._lock = threading.Lock()
        self._holders = 0
        self._saved: T | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._saved = saved = self._read()
                self._write(self._change(saved))
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._saved is not None:
                    self._write(self._saved)
