"""A work queue that takes turns between collections, and shares the slots once rate-limited."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Hashable
from typing import Any


class TurnQueue:
    """A blocking queue that serves its keys in turn: one item of each waiting key, round robin.

    The fetchers of a parallel fetch take their next page here. A collection that plans many
    pages at once (its total is known) queues them all, while one read page by page queues
    its next page only when the last one came back; in one first-in first-out queue that
    page would wait behind every page planned before it. Here it is at most one turn away.

    Once the server limits the rate (`share`), more requests in flight only draw more
    refusals, and the collection holding most of them would take most of what the server
    lets through: from then on each collection still at work holds at most its share of
    the `width` slots, so the waits are shared and every collection advances.
    """

    def __init__(self, width: int, keys: tuple[Hashable, ...] = ()) -> None:
        self.width = max(1, width)
        self._at_work = set(keys)  # keys not finished, whether or not they have work queued
        self._ready = threading.Condition()
        self._lanes: dict[Hashable, deque[Any]] = {}
        self._turns: deque[Hashable] = deque()  # keys with work, in the order they are served
        self._busy: Counter[Hashable] = Counter()  # items taken and not done, per key
        self._shared = False
        self._stops = 0

    def put(self, item: Any, key: Hashable) -> None:
        """Queue an item of a key; it is served after one item of every key ahead of it."""
        with self._ready:
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = deque()
                self._turns.append(key)
            lane.append(item)
            self._wake()

    def share(self) -> None:
        """From now on, give each key at work at most its share of the slots."""
        with self._ready:
            self._shared = True

    def finish(self, key: Hashable) -> None:
        """Say a key has no more work to come: the others share its slots."""
        with self._ready:
            self._at_work.discard(key)
            if self._shared:  # the shares grow: a taker held back may go on
                self._ready.notify_all()

    def done(self, key: Hashable) -> None:
        """Say a taken item of a key is finished: its slot is free again."""
        with self._ready:
            self._busy[key] -= 1
            if self._busy[key] <= 0:
                del self._busy[key]
            if self._shared:  # a slot of a share came free: a taker held back may go on
                self._ready.notify_all()

    def stop(self) -> None:
        """Let one taker return None once the queued work is taken."""
        with self._ready:
            self._stops += 1
            self._ready.notify_all()

    def get(self) -> tuple[Hashable, Any] | None:
        """Return the next (key, item) in turn, waiting for one; None once stopped and empty."""
        with self._ready:
            while True:
                key = self._next()
                if key is not None:
                    break
                if not self._turns and self._stops:
                    self._stops -= 1
                    return None
                self._ready.wait()
            self._turns.remove(key)
            lane = self._lanes[key]
            item = lane.popleft()
            if lane:
                self._turns.append(key)
            else:
                del self._lanes[key]
            self._busy[key] += 1
            return key, item

    def _wake(self) -> None:
        """Wake a taker for a new item: any one will do, unless shares hold some back."""
        if self._shared:
            self._ready.notify_all()
        else:
            self._ready.notify()  # waking them all would have them fight for one item

    def _next(self) -> Hashable | None:
        """Return the first key in turn that may take another slot."""
        if not self._shared:
            return self._turns[0] if self._turns else None
        at_work = len(self._at_work | set(self._lanes) | set(self._busy))
        share = max(1, self.width // max(1, at_work))
        return next((k for k in self._turns if self._busy[k] < share), None)
