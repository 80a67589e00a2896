"""Dropping rows a collection sent twice, in memory that does not grow with the collection.

Offsets shift while a server's data changes: a row inserted or deleted below a page already
read moves every later row by one, so a page starts with a row of the page before it, or a
page is read twice. Such repeats are found among pages at neighbouring offsets, so the fetch
remembers the sourcedIds of a page only while a page that may overlap it can still come: a
page in flight, or the next one to plan, at most a few pages away. Pages come back in any
order, and a page waiting for a retry keeps its neighbours remembered however long it takes;
past a cap, the pages handled first are forgotten first. The first page is never forgotten:
a server that ignores offset sends it again and again, at every offset in flight.

A sourcedId repeated from further away (a server that orders its rows differently on every
request) is handed over twice: the run store keeps the last one received and its integrity
report counts the sourcedIds received more than once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque


class RecentIds:
    """The sourcedIds of the pages of one collection that later pages may still repeat."""

    def __init__(self, cap: int) -> None:
        self.cap = max(1, cap)  # pages remembered at most
        self._ids: set[str] = set()
        self._pages: deque[tuple[int, list[str]]] = deque()  # (offset, new ids), as handled

    def __len__(self) -> int:
        return len(self._ids)

    def fresh(self, offset: int, ids: list[str]) -> list[int] | None:
        """Remember the sourcedIds of the page at `offset`; return the positions of new ones.

        None when every one is new (the usual case, checked in C without a loop).
        """
        seen = self._ids
        if seen.isdisjoint(ids):
            before = len(seen)
            seen.update(ids)
            if len(seen) - before == len(ids):
                self._keep(offset, ids)
                return None
            seen.difference_update(ids)  # a page repeating itself: sort it out below
        positions = []
        new = []
        for position, sourced_id in enumerate(ids):
            if sourced_id not in seen:
                seen.add(sourced_id)
                new.append(sourced_id)
                positions.append(position)
        if new:
            self._keep(offset, new)
        return positions

    def forget_far(self, near: list[int], margin: int) -> None:
        """Forget the pages further than `margin` rows from every offset in `near`.

        `near` holds the offsets of the pages still to come: the ones in flight, and the
        next one to plan.
        """
        marks = sorted(near)
        if not marks:
            return
        kept: deque[tuple[int, list[str]]] = deque()
        for start, ids in self._pages:
            at = bisect_left(marks, start)
            if (at < len(marks) and marks[at] - start <= margin) or \
                    (at > 0 and start - marks[at - 1] <= margin):
                kept.append((start, ids))
            else:
                self._ids.difference_update(ids)
        self._pages = kept

    def _keep(self, offset: int, ids: list[str]) -> None:
        if offset == 0:
            return  # the first page: its sourcedIds stay in the set for good
        self._pages.append((offset, ids))
        if len(self._pages) > self.cap:
            self._ids.difference_update(self._pages.popleft()[1])
