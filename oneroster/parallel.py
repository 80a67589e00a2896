"""The parallel fetch: collections side by side, and the pages of each once they can be planned.

Each collection's own state is an EntityRun (oneroster/entity_run.py).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from oneroster.decoding import Decoders, decoded_here
from oneroster.entity_run import RECENT_PAGES_CAP_PER_SLOT as RECENT_PAGES_CAP_PER_SLOT
from oneroster.entity_run import SOURCED_ID, EntityRun
from oneroster.errors import label, with_entity
from oneroster.model import (
    SCOPE_DEMOGRAPHICS,
    Category,
    FetchResult,
    OneRosterError,
    ProgressCallback,
    Sink,
)
from oneroster.normalize import DATA_TYPE
from oneroster.paging import Slice
from oneroster.turns import TurnQueue

if TYPE_CHECKING:
    from oneroster.client import OneRosterClient
    from oneroster.http import Answer

PLANNED_PER_SLOT = 2
POLL_S = 0.05  # how often the coordinator looks at the caller's cancel event
DROPPED = object()  # the outcome of a planned page not asked for: it lies past the end
# The scope an optional collection needs, by collection: a token known to lack it is not used
# to ask for the collection at all.
OPTIONAL_SCOPES = {"demographics": SCOPE_DEMOGRAPHICS}
# Refusals that mean "not granted to this client" when an optional collection gets them.
REFUSALS = frozenset((Category.FORBIDDEN, Category.AUTHENTICATION))


class ParallelFetch:
    """Fetch several collections on one connection, streaming records to a sink.

    There is one fetcher thread per request in flight (and a spare per collection), and they
    do nothing but HTTP: as soon as a fetcher has read an answer it hands it over and sends
    the next request, holding the interpreter lock it already has, so no slot waits for a
    thread to wake up. The thread that called run() does all the rest, page by page: parse,
    normalise, plan the next pages, hand records to the sink, report progress. The work that
    needs the interpreter lock is the same whichever thread does it; done by one thread, it
    does not preempt the fetchers with more of itself. With `decode_processes` set, a fetcher
    hands a large body to a decoder process (oneroster/decoding.py) and goes on to its next
    request, and run()'s thread takes the page's records once decoded: parsing and
    normalising then run on the other cores.

    An `optional` collection the server does not grant this client (its token lacks the
    collection's scope, or the first page is answered 401 or 403) ends without an error,
    its result saying why it was not read.
    """

    def __init__(self, client: OneRosterClient, entities: tuple[str, ...], sink: Sink,
                 progress: ProgressCallback | None, cancel: threading.Event | None,
                 since: str | None, optional: frozenset[str] = frozenset()) -> None:
        unknown = [e for e in entities if e not in DATA_TYPE]
        if unknown:
            raise ValueError(f"Unknown OneRoster collections: {', '.join(unknown)}")
        self.client = client
        self.settings = client.settings
        self.optional = frozenset(optional)
        self.sink = sink
        self.callback = progress
        self.user_cancel = cancel
        self.cancel = threading.Event()  # set by the caller's event, or by a fatal sink error
        query: dict[str, Any] = {"sort": "sourcedId", "orderBy": "asc"}
        if since:
            query["filter"] = f"dateLastModified>'{since}'"
        self.width = max(1, self.settings.max_in_flight)
        # Pages planned ahead per collection: twice the requests in flight, so that while
        # pages wait to be decoded and handled a collection read alone keeps every slot busy.
        ahead = self.width * PLANNED_PER_SLOT
        self.runs = {entity: EntityRun(entity, self.settings.page_size, ahead, dict(query),
                                       self)
                     for entity in dict.fromkeys(entities)}
        self.pending = 0  # pages asked for and not yet handled; only run()'s thread counts
        # Collections take turns at the fetchers, so one read page by page is not stuck
        # behind every page planned for one read side by side (see TurnQueue).
        self.todo = TurnQueue(self.width, tuple(self.runs))
        # Bounded: while the sink holds run()'s thread up, the fetchers stop at one answer
        # each instead of reading on into memory.
        self.answers: queue.Queue[tuple[EntityRun, Slice, dict | None, Any]] = \
            queue.Queue(maxsize=self.width)
        self.report_lock = threading.Lock()
        self.fatal: BaseException | None = None
        self.decoders: Decoders | None = None

    def run(self) -> FetchResult:
        """Fetch every collection and return how each one ended."""
        if not self._begin():
            return self._result()
        # One fetcher per request in flight, and one more per collection: while fetchers
        # wait out a rate limit holding their pages, a collection whose turn comes still
        # finds one (the transport's slots keep the requests in flight to the width).
        fetchers = [threading.Thread(target=self._fetcher, name=f"oneroster-{i}", daemon=True)
                    for i in range(self.width + len(self.runs))]
        if self.settings.decode_processes > 0:
            self.decoders = Decoders(self.settings.decode_processes)
        for thread in fetchers:
            thread.start()
        try:
            for run in self.runs.values():
                if not self._scope_lacking(run):
                    self._submit(run, run.planner.first())
            self._handle_answers()
        except BaseException:
            self.cancel.set()  # the fetchers stop at their next request
            raise
        finally:
            self._stop(fetchers)
            if self.decoders is not None:
                self.decoders.close()
        if self.fatal is not None:
            raise self.fatal
        return self._result()

    def _begin(self) -> bool:
        """Start the time budget and get a token; False when every collection failed."""
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
            return False
        return True

    def _stop(self, fetchers: list[threading.Thread]) -> None:
        """Let every fetcher end, and wait until it has."""
        for _ in fetchers:
            self.todo.stop()
        for thread in fetchers:
            while thread.is_alive():  # it may be waiting for room for an answer
                self._discard_answers()
                thread.join(POLL_S)

    def _fetcher(self) -> None:
        """Send the requests of pages to fetch, one at a time, and pass their answers on."""
        while (job := self.todo.get()) is not None:
            key, (run, page, query) = job
            outcome: Any = None  # nothing asked: the collection failed already
            try:
                if run.planner.past_end(page):
                    outcome = DROPPED  # an earlier page proved nothing is there
                elif not run.over:
                    run.sent()
                    outcome = self._decoded(run, self.client.request_page(
                        run.entity, page, query, cancel=self.cancel, observer=run))
            except BaseException as error:  # handled, or raised, by run()'s thread
                outcome = error
            self.todo.done(key)
            self.answers.put((run, page, query, outcome))
            del job, outcome  # an answer's body is not kept while waiting for the next page

    def _decoded(self, run: EntityRun, answer: Answer) -> Answer | tuple[Answer, Future]:
        """Return the answer with the future of its records: a decoder's, or read here when in
        the 1.2 shape; the answer alone when its records need reading in full."""
        future = None if self.decoders is None else \
            self.decoders.submit(run.entity, answer.body)
        if future is None:
            future = decoded_here(run.entity, answer.body)
        return answer if future is None else (answer, future)

    def _discard_answers(self) -> None:
        while True:
            try:
                self.answers.get_nowait()
            except queue.Empty:
                return

    def _submit(self, run: EntityRun, page: Slice) -> None:
        query = None if page.url else {**run.query, "limit": page.limit, "offset": page.offset}
        with run.lock:
            run.active += 1
            run.flying.append(page.offset)
        self.pending += 1
        self.todo.put((run, page, query), run.entity)

    def _handle_answers(self) -> None:
        """Handle answers as they come, until every page asked for is handled."""
        while self.pending:
            try:
                run, page, query, outcome = self.answers.get(timeout=POLL_S)
            except queue.Empty:
                outcome = None
            else:
                self.pending -= 1
                try:
                    self._handle(run, page, query, outcome)
                except OneRosterError as error:
                    self._fail(run, error)
                except BaseException as error:  # a failing sink: stop everything, raise it
                    self.fatal = self.fatal or error
                    self.cancel.set()
                finally:
                    self._settle(run, page)
                del outcome  # the page's records go now, not when the next page comes
            if self.user_cancel is not None and self.user_cancel.is_set():
                self.cancel.set()

    def _handle(self, run: EntityRun, page: Slice, query: dict | None, outcome: Any) -> None:
        if outcome is None or run.over:
            return
        if outcome is DROPPED:
            with run.lock:
                todo = run.planner.dropped()
            for nxt in todo:
                self._submit(run, nxt)
            return
        if isinstance(outcome, OneRosterError):
            if page.offset == 0 and page.url is None and outcome.status == 400 \
                    and "sort" in run.query:
                del run.query["sort"], run.query["orderBy"]  # a server that refuses sorting
                self._submit(run, page)
                return
            raise outcome
        if isinstance(outcome, BaseException):
            raise outcome
        answer, decoding = outcome if isinstance(outcome, tuple) else (outcome, None)
        result, links = self.client.page_of(run.entity, page, query, answer,
                                            cancel=self.cancel, observer=run,
                                            records=decoding and decoding.result())
        fresh = run.keep_new(page.offset, result.records)
        if page.offset == 0 and page.url is None:
            run.first_ids = frozenset(map(SOURCED_ID, result.records))
        repeated = run.repeats(page, result.records, fresh)
        with run.lock:
            todo = run.planner.done(page, len(result.records), result.total, links,
                                    result.has_link, fresh=len(fresh), repeated=repeated)
        if repeated:
            raise run.stuck()
        for nxt in todo:
            self._submit(run, nxt)
        if fresh:
            self.sink(run.entity, fresh)
        run.counted(len(fresh))
        self.report(run)

    def _settle(self, run: EntityRun, page: Slice) -> None:
        """Count one page as handled; the last one of a complete collection marks it done."""
        with run.lock:
            run.active -= 1
            run.handled(page.offset)
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
            self.todo.finish(run.entity)
            self.report(run)

    def _scope_lacking(self, run: EntityRun) -> bool:
        """Withhold an optional collection whose scope the token is known to lack."""
        scope = OPTIONAL_SCOPES.get(DATA_TYPE[run.entity])
        if run.entity not in self.optional or scope is None:
            return False
        granted = self.client.granted_scopes()
        if granted is None or any(s.rsplit("/", 1)[-1] == scope for s in granted):
            return False
        self._withhold(run, f"The SIS did not grant {label(run.entity).lower()}: the token "
                            f"it issued does not carry the {scope} scope")
        return True

    def _withhold(self, run: EntityRun, reason: str) -> None:
        with run.lock:
            run.withheld = reason
            run.finished_at = time.perf_counter()
            run.progress.state = "done"
            run.progress.total = 0
            run.progress.waiting_s = 0.0
        self.todo.finish(run.entity)
        self.report(run)

    def _fail(self, run: EntityRun, error: OneRosterError, may_withhold: bool = True) -> None:
        # Only the collection's own answer says it is not granted; a token refused is not.
        if may_withhold and run.entity in self.optional and error.category in REFUSALS \
                and error.entity == run.entity and run.progress.fetched == 0 \
                and run.withheld is None:
            said = f"it answered HTTP {error.status}" if error.status else error.message
            if error.server_message:
                said += f" ({error.server_message})"
            run.refusal = error
            self._withhold(run, f"The SIS did not grant {label(run.entity).lower()}: {said}")
            return
        with run.lock:
            if run.over:
                return
            if error.entity != run.entity:
                error = with_entity(error, run.entity)
            run.error = error
            run.finished_at = time.perf_counter()
            run.progress.state = "cancelled" if error.category == Category.CANCELLED \
                else "failed"
            run.progress.error = error
            run.progress.waiting_s = 0.0
        self.todo.finish(run.entity)
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
        # A 401 is "not granted" only while the credentials work for the other collections:
        # refused everywhere, they are wrong, and the optional collection fails as the rest.
        if any(r.error is not None and r.error.category == Category.AUTHENTICATION
               for r in self.runs.values()):
            for run in self.runs.values():
                if run.refusal is not None and run.refusal.category == Category.AUTHENTICATION:
                    with run.lock:
                        run.withheld = None
                    self._fail(run, run.refusal, may_withhold=False)
        for run in self.runs.values():
            if not run.over and not run.planner.finished:
                self._fail(run, OneRosterError(Category.CANCELLED, "The fetch was cancelled",
                                               entity=run.entity))
        return FetchResult({entity: run.result() for entity, run in self.runs.items()})
