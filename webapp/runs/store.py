"""Storing a run's records as they arrive: a writer thread fed through a bounded queue.

Readers (the sources' fetch threads) hand over a page of records and go back to the network;
the writer stores it, so database writes overlap network waits. The queue's bound is what
keeps memory flat: when the database falls behind, readers wait instead of piling records up.

Every thread of a run shares one interpreter lock. A reader turns its page into INSERT
statements, or on PostgreSQL the rows of a COPY, itself (webapp/runs/rows.py) as part of the
work it does on the page anyway; the writer only hands them to the driver, which is brief,
and waits for the database with the lock released. A writer that did the Python work would
also have to win the lock back from the readers every time the database returned, and lose up
to a switch interval each time. Rows go in with multi-row INSERTs of up to ROWS_PER_STATEMENT
rows on SQLite, and with COPY on PostgreSQL.

SQLite takes one writer at a time. On PostgreSQL COPY_WRITERS writers, each with a connection
of its own, take batches from the same queue, so the server stores one batch while it receives
the next (measured on the run benchmark: readers stopped waiting for room in the queue).
Which of two batches commits first is then open, so among records of one source that repeat
a sourcedId, "the one stored last" is defined only within a page.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import orjson
from sqlalchemy import Engine

from webapp.plugin_api import Record, Sink
from webapp.runs import seen
from webapp.runs.rows import COPY_SQL, PreparedPage, method, prepare
from webapp.runs.seen import RecentTargets, SeenIds
from webapp.runs.tally import Tally

log = logging.getLogger(__name__)

COPY_WRITERS = 2  # connections storing pages at once on PostgreSQL
QUEUE_PAGES = 8  # pages waiting for the writer (about 1 MB each); readers block beyond this
FLUSH_ROWS = 3000  # rows per transaction at most
SQLITE_CACHE_KIB = 16384  # the writer's page cache: index inserts stay in memory
SUSPECTS_PER_QUERY = 5000  # suspects asked about in one statement
_STOP = object()


class StoreFailed(Exception):
    """The database refused the run's records."""

    public_message = "Storing the records failed; see the server log."


class RecordWriter:
    """Insert records of one run from a dedicated thread."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine = engine
        self.run_id = run_id
        self.stored = 0
        self.tally = Tally()  # what was stored: counts, and what the references were like
        self.busy_s = 0.0  # time the writer spent storing
        self.cpu_s = 0.0  # processor time of the writer thread
        self.waited_s = 0.0  # time readers spent waiting for room in the queue
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_PAGES)
        self._seen = SeenIds()
        self._suspects: dict[str, list[str]] = {}  # sourcedIds perhaps stored twice
        self._sent = RecentTargets()
        count = COPY_WRITERS if method(engine.dialect) == "copy" else 1
        self._threads = [threading.Thread(target=self._loop, daemon=True,
                                          name=f"sdm-run-{run_id}-writer-{n}")
                         for n in range(count)]

    def start(self) -> RecordWriter:
        for thread in self._threads:
            thread.start()
        return self

    @property
    def failed(self) -> bool:
        return self.error is not None

    def sink(self, rank: int) -> Sink:
        """Return the sink for one source: its records carry the source's precedence rank."""

        dialect = self.engine.dialect
        how = method(dialect)

        def put(entity: str, records: list[Record]) -> None:
            if self.error is not None:
                raise StoreFailed()
            if records:
                try:
                    page = prepare(how, dialect.paramstyle, self.run_id, rank, entity, records)
                except Exception as exc:  # records no statement can hold: as if refused
                    log.exception("storing records of run %s failed", self.run_id)
                    self.error = exc
                    raise StoreFailed() from exc
                with self._lock:  # counted now; a writer that fails makes the tally moot
                    self.tally.add(rank, entity, len(page.ids), page.tobedeleted,
                                   page.references)
                    self._suspect(entity, page.ids)
                    page.targets = self._sent.fresh(page.targets)
                started = time.perf_counter()
                self._queue.put(page)
                waited = time.perf_counter() - started
                if waited > 0.001:
                    with self._lock:
                        self.waited_s += waited

        return put

    def abandon(self) -> None:
        """Stop the writer, whatever it has or has not stored."""
        self._stop()

    def close(self) -> None:
        """Wait until every queued record is stored; raise StoreFailed if any was not.

        Then ask the database about the suspects: sourcedIds the filter may have seen before.
        """
        self._stop()
        if self.error is None and self._suspects and not self.tally.repeated:
            try:
                with self.engine.connect() as conn:
                    self.tally.repeated = self._stored_twice(conn)
            except Exception as exc:
                log.exception("checking the records of run %s failed", self.run_id)
                self.error = exc
        if self.error is not None:
            raise StoreFailed() from self.error

    def _suspect(self, entity: str, ids: list[str]) -> None:
        """Keep the sourcedIds of a page that may repeat one handed over before (locked)."""
        if self.tally.repeated:
            return
        if suspects := self._seen.add(entity, ids):
            self._suspects.setdefault(entity, []).extend(suspects)
            if sum(map(len, self._suspects.values())) > seen.SUSPECTS:  # too many to ask
                self.tally.repeated = True  # about one by one: the run's end reads them all
                self._suspects.clear()

    def _stop(self) -> None:
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()

    def _loop(self) -> None:
        started = time.thread_time()
        with self.engine.connect() as conn:
            try:
                self._drain(conn)
            finally:
                with self._lock:
                    self.cpu_s += time.thread_time() - started
                if conn.dialect.name == "sqlite":
                    conn.invalidate()  # its pragmas suit this writer only: not back to the pool

    @staticmethod
    def _tune(conn) -> None:
        if conn.dialect.name != "sqlite":
            return
        # WAL stays consistent with NORMAL; a crash may lose the last pages of a run, which
        # then ends failed anyway.
        conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        # Copying the log back into the database is left to the other connections (once
        # the run's records are in), not done every few pages on this thread.
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        conn.commit()
        conn.connection.driver_connection.isolation_level = None  # autocommit, see _insert

    def _take(self) -> tuple[list[PreparedPage], bool]:
        """Wait for a page, then take what else is queued, up to FLUSH_ROWS rows."""
        pages = []
        size = 0
        item = self._queue.get()
        while item is not _STOP:
            pages.append(item)
            size += len(item.ids)
            if size >= FLUSH_ROWS:
                return pages, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return pages, False
        return pages, True

    def _drain(self, conn) -> None:
        """Store pages from the queue until told to stop."""
        self._tune(conn)
        done = False
        while not done:
            pages, done = self._take()
            if not pages or self.error is not None:
                continue  # after a failure, keep draining so no reader stays blocked
            started = time.perf_counter()
            try:
                self._insert(conn, pages)
            except Exception as exc:  # readers see it at their next page
                log.exception("storing records of run %s failed", self.run_id)
                self.error = exc
                conn.rollback()
            with self._lock:
                self.busy_s += time.perf_counter() - started

    def _insert(self, conn, pages: list[PreparedPage]) -> None:
        if conn.dialect.name == "sqlite":
            # Each statement commits itself (the connection is in autocommit mode, see
            # _tune): one call into the driver a page, so the interpreter lock is given up
            # and won back once a page rather than twice.
            driver = conn.connection.driver_connection
            for page in pages:
                for statement, values in page.statements:
                    driver.execute(statement, values)
                self.stored += len(page.ids)
            if found := _targets(pages):
                driver.execute(SQLITE_REFERENCES, (self.run_id, found))
            return
        if pages[0].copy is not None:
            # PostgreSQL: the pages' rows streamed through one COPY, as prepared, in a
            # transaction of their own (the COPY goes past SQLAlchemy, straight to psycopg).
            # Its commit does not wait for the log to reach the disk: as with SQLite's
            # synchronous=NORMAL, a crash may lose the last pages of a run that fails anyway.
            with conn.begin(), conn.connection.driver_connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
                with cursor.copy(COPY_SQL) as copy:
                    for page in pages:
                        copy.write(page.copy)
                if found := _targets(pages):
                    cursor.execute(POSTGRESQL_REFERENCES, (self.run_id, found))
        else:
            for page in pages:
                for statement, values in page.statements:
                    conn.exec_driver_sql(statement, values)
            if found := _targets(pages):
                conn.exec_driver_sql(SQLITE_REFERENCES if conn.dialect.name == "sqlite"
                                     else POSTGRESQL_REFERENCES, (self.run_id, found))
            conn.commit()
        with self._lock:
            self.stored += sum(len(page.ids) for page in pages)

    def _stored_twice(self, conn) -> bool:
        """Return whether a suspect is stored more than once in its collection of the run.

        Its index answers with a lookup a suspect, on the database's time rather than the
        interpreter's, once every writer has committed.
        """
        sqlite = conn.dialect.name == "sqlite"
        for entity, suspects in self._suspects.items():
            for start in range(0, len(suspects), SUSPECTS_PER_QUERY):
                found = orjson.dumps(suspects[start:start + SUSPECTS_PER_QUERY]).decode()
                values = {"run": self.run_id, "entity": entity, "ids": found}
                if sqlite:
                    row = conn.connection.driver_connection.execute(
                        SQLITE_REPEATS, tuple(values.values())).fetchone()
                else:
                    row = conn.exec_driver_sql(POSTGRESQL_REPEATS, values).first()
                if row is not None:
                    return True
        return False


# The targets of a batch of pages as one JSON array of [collection, reference, sourcedId]:
# one statement a batch, each target stored once a run (the rest are ignored). Sorted, so
# PostgreSQL's two writers, which may store the same targets at once, lock them in the same
# order and never wait for each other in a circle.
SQLITE_REFERENCES = (
    "INSERT OR IGNORE INTO run_references (run_id, entity, field, target) "
    "SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]') FROM json_each(?2)")
POSTGRESQL_REFERENCES = (
    "INSERT INTO run_references (run_id, entity, field, target) "
    "SELECT %s, t.e->>0, t.e->>1, t.e->>2 "
    "FROM json_array_elements(%s::json) WITH ORDINALITY AS t(e, n) ORDER BY t.n "
    "ON CONFLICT DO NOTHING")


def _targets(pages: list[PreparedPage]) -> str | None:
    found = pages[0].targets if len(pages) == 1 else sorted(
        set().union(*(page.targets for page in pages)))
    return orjson.dumps(found).decode() if found else None


# Whether a sourcedId among some just stored is stored more than once in a run's collection:
# an index lookup for each, never a scan of the collection.
SQLITE_REPEATS = (
    "SELECT 1 FROM json_each(?3) AS i WHERE (SELECT count(*) FROM run_records AS r "
    "WHERE r.run_id = ?1 AND r.entity = ?2 AND r.sourced_id = i.value) > 1 LIMIT 1")
POSTGRESQL_REPEATS = (
    "SELECT 1 FROM json_array_elements_text(%(ids)s::json) AS i(id) "
    "WHERE (SELECT count(*) FROM run_records AS r WHERE r.run_id = %(run)s "
    "AND r.entity = %(entity)s AND r.sourced_id = i.id) > 1 LIMIT 1")
