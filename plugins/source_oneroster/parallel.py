"""The parallel fetch: collections side by side, and the pages of each once they can be planned."""

from __future__ import annotations

import dataclasses
import gc
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from plugins.source_oneroster.errors import with_entity
from plugins.source_oneroster.model import (
    Category,
    EntityProgress,
    EntityResult,
    FetchResult,
    OneRosterError,
    ProgressCallback,
    Record,
    Sink,
)
from plugins.source_oneroster.normalize import DATA_TYPE
from plugins.source_oneroster.paging import Planner, Slice

if TYPE_CHECKING:
    from plugins.source_oneroster.client import OneRosterClient

POLL_S = 0.05  # how often the coordinator looks at the caller's cancel event
# While pages are parsed, the garbage collector runs after this many new containers rather
# than 700: a page is some 15,000 short-lived dicts and lists, and at the default the
# collector runs dozens of times a page, with full collections over the whole heap taking
# more time than the parsing. Records hold no reference cycles, so this costs no memory.
GC_THRESHOLD_0 = 100_000

_gc_lock = threading.Lock()
_gc_fetches = 0
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's first threshold for as long as any fetch runs."""
    global _gc_fetches, _gc_saved
    with _gc_lock:
        if _gc_fetches == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(GC_THRESHOLD_0, _gc_saved[0]), *_gc_saved[1:])
        _gc_fetches += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_fetches -= 1
            if _gc_fetches == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)


class EntityRun:
    """The fetch of one collection: its plan, progress and the sourcedIds already seen."""

    def __init__(self, entity: str, page_size: int, window: int, query: dict[str, Any],
                 fetch: ParallelFetch) -> None:
        self.entity = entity
        self.planner = Planner(page_size, window)
        self.query = query
        self.progress = EntityProgress(entity)
        self.seen: set[str] = set()
        self.duplicates = 0
        self.lock = threading.Lock()
        self.started = time.perf_counter()
        self.finished_at: float | None = None
        self.error: OneRosterError | None = None
        self.active = 0  # pages submitted and not yet fully handled
        self._fetch = fetch

    # Observer: the transport reports retries and rate-limit waits here.
    def retrying(self) -> None:
        with self.lock:
            self.progress.retries += 1
        self._fetch.report(self)

    def waiting(self, seconds: float) -> None:
        with self.lock:
            self.progress.waiting_s = seconds
        self._fetch.report(self)

    def keep_new(self, records: list[Record]) -> list[Record]:
        """Return the records not seen before (offsets shift while data changes)."""
        seen = self.seen
        ids = [record.sourced_id for record in records]
        with self.lock:
            if seen.isdisjoint(ids) and len(set(ids)) == len(ids):  # the usual case, in C
                seen.update(ids)
                return records
            fresh = []
            for record in records:
                if record.sourced_id not in seen:
                    seen.add(record.sourced_id)
                    fresh.append(record)
            self.duplicates += len(records) - len(fresh)
        return fresh

    def result(self) -> EntityResult:
        end = self.finished_at or time.perf_counter()
        total = self.planner.total
        if total is None and self.error is None:
            total = self.progress.fetched
        return EntityResult(entity=self.entity, ok=self.error is None,
                            records=self.progress.fetched, pages=self.progress.pages,
                            duplicates=self.duplicates, elapsed_s=end - self.started,
                            total=total, error=self.error)


class ParallelFetch:
    """Fetch several collections on one bounded pool, streaming records to a sink."""

    def __init__(self, client: OneRosterClient, entities: tuple[str, ...], sink: Sink,
                 progress: ProgressCallback | None, cancel: threading.Event | None,
                 since: str | None) -> None:
        unknown = [e for e in entities if e not in DATA_TYPE]
        if unknown:
            raise ValueError(f"Unknown OneRoster collections: {', '.join(unknown)}")
        self.client = client
        self.settings = client.settings
        self.sink = sink
        self.callback = progress
        self.user_cancel = cancel
        self.cancel = threading.Event()  # set by the caller's event, or by a fatal sink error
        query: dict[str, Any] = {"sort": "sourcedId", "orderBy": "asc"}
        if since:
            query["filter"] = f"dateLastModified>'{since}'"
        window = max(1, self.settings.max_in_flight)
        self.runs = {entity: EntityRun(entity, self.settings.page_size, window, dict(query), self)
                     for entity in dict.fromkeys(entities)}
        self.pending = 0
        self.done = threading.Condition()
        self.report_lock = threading.Lock()
        self.fatal: BaseException | None = None
        self.pool: ThreadPoolExecutor | None = None

    def run(self) -> FetchResult:
        """Fetch every collection and return how each one ended."""
        transport = self.client.transport
        transport.start_budget()
        if self.user_cancel is not None and self.user_cancel.is_set():
            self.cancel.set()
        for run in self.runs.values():
            run.progress.state = "running"
            self.report(run)
        try:
            transport.check_proxy()
            self.client.credentials.token(self.cancel)
        except OneRosterError as error:
            for run in self.runs.values():
                self._fail(run, error)
            return self._result()
        workers = max(1, self.settings.max_in_flight) + 2  # the sink may hold a worker
        with fewer_collections(), \
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oneroster") as pool:
            self.pool = pool
            for run in self.runs.values():
                self._submit(run, run.planner.first())
            self._wait()
        if self.fatal is not None:
            raise self.fatal
        return self._result()

    def _wait(self) -> None:
        with self.done:
            while self.pending:
                self.done.wait(POLL_S)
                if self.user_cancel is not None and self.user_cancel.is_set():
                    self.cancel.set()

    def _submit(self, run: EntityRun, page: Slice) -> None:
        assert self.pool is not None
        with run.lock:
            run.active += 1
        with self.done:
            self.pending += 1
        self.pool.submit(self._page, run, page)

    def _page(self, run: EntityRun, page: Slice) -> None:
        try:
            if run.error is None:
                self._read(run, page)
        except OneRosterError as error:
            self._fail(run, error)
        except BaseException as error:  # a failing sink: stop everything and raise it
            self.fatal = self.fatal or error
            self.cancel.set()
        finally:
            self._settle(run)
            with self.done:
                self.pending -= 1
                self.done.notify_all()

    def _settle(self, run: EntityRun) -> None:
        """Count one page as handled; the last one of a complete collection marks it done."""
        with run.lock:
            run.active -= 1
            finished = (run.active == 0 and run.error is None and run.planner.finished
                        and run.progress.state == "running")
            if finished:
                progress = run.progress
                progress.state = "done"
                progress.waiting_s = 0.0
                if progress.total is None:
                    progress.total = progress.fetched
                run.finished_at = time.perf_counter()
        if finished:
            self.report(run)

    def _read(self, run: EntityRun, page: Slice) -> None:
        query = None if page.url else {**run.query, "limit": page.limit, "offset": page.offset}
        try:
            result, links = self.client.read_page(run.entity, page, query, cancel=self.cancel,
                                                  observer=run)
        except OneRosterError as error:
            if page.offset == 0 and page.url is None and error.status == 400 \
                    and "sort" in run.query:
                del run.query["sort"], run.query["orderBy"]  # a server that refuses sorting
                self._submit(run, page)
                return
            raise
        fresh = run.keep_new(result.records)
        with run.lock:
            todo = run.planner.done(page, len(result.records), result.total, links,
                                    result.has_link, fresh=len(fresh))
        if run.error is not None:
            return
        for nxt in todo:
            self._submit(run, nxt)
        if fresh:
            self.sink(run.entity, fresh)
        with run.lock:
            progress = run.progress
            progress.pages += 1
            progress.fetched += len(fresh)
            progress.total = run.planner.total
        self.report(run)

    def _fail(self, run: EntityRun, error: OneRosterError) -> None:
        with run.lock:
            if run.error is not None:
                return
            if error.entity != run.entity:
                error = with_entity(error, run.entity)
            run.error = error
            run.finished_at = time.perf_counter()
            run.progress.state = "cancelled" if error.category == Category.CANCELLED \
                else "failed"
            run.progress.error = error
            run.progress.waiting_s = 0.0
        self.report(run)

    def report(self, run: EntityRun) -> None:
        """Hand a snapshot of one collection's progress to the callback, one call at a time."""
        if self.callback is None:
            return
        with run.lock:
            snapshot = dataclasses.replace(run.progress)
        with self.report_lock:
            self.callback(snapshot)

    def _result(self) -> FetchResult:
        for run in self.runs.values():
            if run.error is None and not run.planner.finished:
                self._fail(run, OneRosterError(Category.CANCELLED, "The fetch was cancelled",
                                               entity=run.entity))
        return FetchResult({entity: run.result() for entity, run in self.runs.items()})
