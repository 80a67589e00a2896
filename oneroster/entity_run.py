"""The fetch of one collection inside a parallel fetch: its plan, progress and repeats.

oneroster/parallel.py coordinates the collections; each keeps here what it has asked for,
what came back, the sourcedIds seen lately (offsets shift while data changes), and how its
read ended.
"""

from __future__ import annotations

import threading
import time
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from oneroster.errors import label
from oneroster.model import Category, EntityProgress, EntityResult, OneRosterError, Record
from oneroster.paging import Planner, Slice
from oneroster.repeats import RecentIds

if TYPE_CHECKING:
    from oneroster.parallel import ParallelFetch

# Repeated rows are looked for among pages at most this many pages apart, and a collection
# remembers the sourcedIds of this many pages at most per request in flight.
NEAR_PAGES = 2
RECENT_PAGES_CAP_PER_SLOT = 16
SOURCED_ID = itemgetter(1)  # of a Record, a named tuple


class EntityRun:
    """The fetch of one collection: its plan, progress and the sourcedIds seen lately."""

    def __init__(self, entity: str, page_size: int, window: int, query: dict[str, Any],
                 fetch: ParallelFetch) -> None:
        self.entity = entity
        self.planner = Planner(page_size, window)
        self.query = query
        self.progress = EntityProgress(entity)
        self.seen = RecentIds(RECENT_PAGES_CAP_PER_SLOT * window)
        self.flying: list[int] = []  # offsets of the pages asked for and not yet handled
        self.first_ids: frozenset[str] = frozenset()  # of the first page, to spot repeats
        self.duplicates = 0
        self.lock = threading.Lock()
        self.started = time.perf_counter()
        self.finished_at: float | None = None
        self.error: OneRosterError | None = None
        self.withheld: str | None = None  # an optional collection the server does not grant
        self.refusal: OneRosterError | None = None  # the answer that withheld it
        self.active = 0  # pages submitted and not yet fully handled
        self._fetch = fetch

    def sent(self) -> None:
        """Count one request of a page (retries are counted as they happen)."""
        with self.lock:
            self.progress.requests += 1

    # Observer: the transport reports retries and rate-limit waits here.
    def retrying(self) -> None:
        with self.lock:
            self.progress.retries += 1
            self.progress.requests += 1
        self._fetch.report(self)

    def waiting(self, seconds: float) -> None:
        if seconds > 0:  # the server limits the rate: collections share the slots from now on
            self._fetch.todo.share()
        with self.lock:
            self.progress.waiting_s = seconds
        self._fetch.report(self)

    def keep_new(self, offset: int, records: list[Record]) -> list[Record]:
        """Return the records not seen on nearby pages (offsets shift while data changes)."""
        ids = list(map(SOURCED_ID, records))
        with self.lock:
            positions = self.seen.fresh(offset, ids)
            if positions is None:
                return records
            self.duplicates += len(records) - len(positions)
        return [records[i] for i in positions]

    def counted(self, fresh: int) -> None:
        """Count one page handled, and the records new to the collection it brought."""
        with self.lock:
            self.progress.pages += 1
            self.progress.fetched += fresh
            self.progress.total = self.planner.total

    def handled(self, offset: int) -> None:
        """Count the page at `offset` handled; forget pages no page in flight can repeat."""
        self.flying.remove(offset)
        self.seen.forget_far([*self.flying, self.planner.frontier],
                             NEAR_PAGES * self.planner.step)

    def repeats(self, page: Slice, records: list[Record], fresh: list[Record]) -> bool:
        """Tell whether a page past the first brought back nothing but rows already read.

        From an offset, only a repeat of the first page counts (the server ignores offset);
        a next URL leading back to rows already read is a loop.
        """
        if fresh or not records:
            return False
        if page.url is not None:
            return True
        return page.offset > 0 and self.first_ids.issuperset(map(SOURCED_ID, records))

    def stuck(self) -> OneRosterError:
        """Return the error of a collection whose server does not page past the first page."""
        planner, fetched = self.planner, self.progress.fetched
        what = label(self.entity).lower()
        if planner.follow:
            text = (f"The server's next link for {what} led back to records already read: "
                    f"SDM stopped after {fetched:,} records and cannot read the rest")
        else:
            said = (f" of the {planner.total:,} it says it holds"
                    if planner.total is not None and planner.total > fetched else "")
            text = (f"The server ignores offset: asked for {what} past the first page, it "
                    f"sent the first page again, so SDM cannot read beyond the first "
                    f"{fetched:,} records{said}")
        return OneRosterError(Category.INCOMPLETE, text, entity=self.entity)

    def warnings(self) -> tuple[str, ...]:
        """Say where the server's total and its records disagree."""
        total, fetched = self.planner.total, self.progress.fetched
        if self.error is not None or total is None or total == fetched:
            return ()
        text = f"The server said {total:,}, sent {fetched:,}"
        if self.duplicates:
            text += f" ({self.duplicates:,} sent more than once)"
        return (text + "; SDM read on to the last page the server serves",)

    def result(self) -> EntityResult:
        end = self.finished_at or time.perf_counter()
        total = self.planner.total
        if total is None and self.error is None:
            total = self.progress.fetched
        if self.withheld is not None:
            total = None
        return EntityResult(entity=self.entity, ok=self.error is None,
                            records=self.progress.fetched, pages=self.progress.pages,
                            duplicates=self.duplicates, elapsed_s=end - self.started,
                            total=total, error=self.error, requests=self.progress.requests,
                            warnings=self.warnings(), withheld=self.withheld)

    @property
    def over(self) -> bool:
        """Whether nothing more is to be asked for: failed, or not granted."""
        return self.error is not None or self.withheld is not None
