"""Storing a run's records as they arrive: a writer thread fed through a bounded queue.

Readers (the sources' fetch threads) hand over a page of records and go back to the network;
the writer stores it, so database writes overlap network waits. The queue's bound is what
keeps memory flat: when the database falls behind, readers wait instead of piling records up.

Rows go in with multi-row INSERTs of up to ROWS_PER_STATEMENT rows and JSON serialised once
by orjson. One statement per row would give up the GIL and win it back for every row (up to
a 5 ms switch interval each time while the fetch threads are busy); letting the database
unpack a JSON array instead costs more CPU in all, which a small machine has least of.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Engine, func, select

from plugins.source_oneroster.model import Record, Sink
from webapp.extensions import db
from webapp.models import RunRecord
from webapp.plugin_api import RunData, StoredRecord

log = logging.getLogger(__name__)

QUEUE_PAGES = 4  # pages waiting for the writer; readers block beyond this
FLUSH_ROWS = 3000  # rows per transaction at most
# 10,000 parameters a statement: within PostgreSQL's 65,535 and SQLite's 32,766 (since 3.32).
ROWS_PER_STATEMENT = 1000 if sqlite3.sqlite_version_info >= (3, 32) else 90
SQLITE_CACHE_KIB = 16384  # the writer's page cache: index inserts stay in memory
_STOP = object()
COLUMNS = ("run_id", "entity", "sourced_id", "source_rank", "status", "date_last_modified",
           "superseded", "ref_a", "ref_b", "data")
# The references the integrity report follows, per collection: (ref_a, ref_b).
REFERENCES: dict[str, tuple[str, str]] = {
    "enrollments": ("user", "class"),
    "classes": ("course", "school"),
}


def _ref(value: Any) -> str | None:
    if isinstance(value, Mapping):
        found = value.get("sourcedId")
        return None if found is None else str(found)
    return None


def insert_statement(paramstyle: str, rows: int) -> str:
    """Return an INSERT of several rows at once, in the driver's parameter style."""
    mark = "?" if paramstyle == "qmark" else "%s"
    values = "(" + ", ".join([mark] * len(COLUMNS)) + ")"
    return (f"INSERT INTO {RunRecord.__tablename__} ({', '.join(COLUMNS)}) "
            f"VALUES {', '.join([values] * rows)}")


class StoreFailed(Exception):
    """The database refused the run's records."""

    public_message = "Storing the records failed; see the server log."


class RecordWriter:
    """Insert records of one run from a dedicated thread."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine = engine
        self.run_id = run_id
        self.stored = 0
        # Rows and tobedeleted rows stored, per (source rank, collection).
        self.tally: dict[tuple[int, str], list[int]] = {}
        self.busy_s = 0.0  # time the writer spent storing
        self.cpu_s = 0.0  # processor time of the writer thread
        self.waited_s = 0.0  # time readers spent waiting for room in the queue
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_PAGES)
        self._thread = threading.Thread(target=self._loop, name=f"sdm-run-{run_id}-writer",
                                        daemon=True)

    def start(self) -> RecordWriter:
        self._thread.start()
        return self

    @property
    def failed(self) -> bool:
        return self.error is not None

    def sink(self, rank: int) -> Sink:
        """Return the sink for one source: its records carry the source's precedence rank."""

        def put(entity: str, records: list[Record]) -> None:
            if self.error is not None:
                raise StoreFailed()
            if records:
                started = time.perf_counter()
                self._queue.put((rank, entity, records))
                waited = time.perf_counter() - started
                if waited > 0.001:
                    with self._lock:
                        self.waited_s += waited

        return put

    def abandon(self) -> None:
        """Stop the writer, whatever it has or has not stored."""
        self._queue.put(_STOP)
        self._thread.join()

    def close(self) -> None:
        """Wait until every queued record is stored; raise StoreFailed if any was not."""
        self._queue.put(_STOP)
        self._thread.join()
        if self.error is not None:
            raise StoreFailed() from self.error

    def _loop(self) -> None:
        started = time.thread_time()
        with self.engine.connect() as conn:
            try:
                self._drain(conn)
            finally:
                self.cpu_s = time.thread_time() - started
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

    def _take(self) -> tuple[list[tuple[int, str, list[Record]]], bool]:
        """Wait for a page, then take what else is queued, up to FLUSH_ROWS rows."""
        pages = []
        size = 0
        item = self._queue.get()
        while item is not _STOP:
            pages.append(item)
            size += len(item[2])
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
        statements: dict[int, str] = {}
        done = False
        while not done:
            pages, done = self._take()
            if not pages or self.error is not None:
                continue  # after a failure, keep draining so no reader stays blocked
            started = time.perf_counter()
            try:
                self._insert(conn, statements, pages)
            except Exception as exc:  # readers see it at their next page
                log.exception("storing records of run %s failed", self.run_id)
                self.error = exc
                conn.rollback()
            self.busy_s += time.perf_counter() - started

    def _insert(self, conn, statements: dict[int, str],
                pages: list[tuple[int, str, list[Record]]]) -> None:
        run_id = self.run_id
        dumps = orjson.dumps
        values: list[Any] = []
        for rank, entity, records in pages:
            a, b = REFERENCES.get(entity, ("", ""))
            tally = self.tally.setdefault((rank, entity), [0, 0])
            tally[0] += len(records)
            tally[1] += sum(1 for r in records if r.status == "tobedeleted")
            for r in records:
                data = r.data
                values += (run_id, entity, r.sourced_id, rank, r.status or "active",
                           r.date_last_modified, False, _ref(data.get(a)) if a else None,
                           _ref(data.get(b)) if b else None, dumps(data).decode())
        width = len(COLUMNS)
        step = width * ROWS_PER_STATEMENT
        for start in range(0, len(values), step):
            chunk = values[start:start + step]
            rows = len(chunk) // width
            statement = statements.get(rows)
            if statement is None:
                statement = statements[rows] = insert_statement(conn.dialect.paramstyle, rows)
            conn.exec_driver_sql(statement, tuple(chunk))
        conn.commit()
        self.stored += len(values) // width


class StoredRunData(RunData):
    """A run's winning records, streamed from the database in sourcedId order."""

    def __init__(self, run_id: int, label: str, modes: dict[str, str],
                 batch: int = 2000) -> None:
        self.run_id = run_id
        self.label = label
        self._modes = modes
        self._batch = batch

    def entities(self) -> list[str]:
        return list(self._modes)

    def mode(self, entity: str) -> str:
        return self._modes.get(entity, "bulk")

    def count(self, entity: str) -> int:
        return db.session.scalar(
            select(func.count()).select_from(RunRecord).where(*_winners(self.run_id, entity))
        ) or 0

    def records(self, entity: str) -> Iterator[StoredRecord]:
        # Keyset paging: each query is short, so no cursor stays open across the whole file.
        after = None
        while True:
            query = (select(RunRecord.sourced_id, RunRecord.status,
                            RunRecord.date_last_modified, RunRecord.data)
                     .where(*_winners(self.run_id, entity))
                     .order_by(RunRecord.sourced_id).limit(self._batch))
            if after is not None:
                query = query.where(RunRecord.sourced_id > after)
            rows = db.session.execute(query).all()
            for sourced_id, status, modified, data in rows:
                yield StoredRecord(sourced_id, status, modified, orjson.loads(data))
            if len(rows) < self._batch:
                return
            after = rows[-1][0]


def _winners(run_id: int, entity: str) -> Sequence[Any]:
    return (RunRecord.run_id == run_id, RunRecord.entity == entity,
            RunRecord.superseded.is_(False))
