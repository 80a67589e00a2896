"""Storing a run's records as they arrive: a writer thread fed through a bounded queue.

Readers (the sources' fetch threads) hand over a page of records and go back to the network;
the writer turns pages into rows and inserts them with executemany, so database writes
overlap network waits. The queue's bound is what keeps memory flat: when the database falls
behind, readers wait instead of piling records up.
"""

from __future__ import annotations

import logging
import queue
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

QUEUE_PAGES = 8  # pages waiting for the writer; readers block beyond this
FLUSH_ROWS = 5000  # rows per transaction at most
SQLITE_CACHE_KIB = 32768  # the writer's page cache: index inserts stay in memory
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


class StoreFailed(Exception):
    """The database refused the run's records."""

    public_message = "Storing the records failed; see the server log."


class RecordWriter:
    """Insert records of one run from a dedicated thread."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine = engine
        self.run_id = run_id
        self.stored = 0
        self.busy_s = 0.0  # time the writer spent storing
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

    def close(self) -> None:
        """Wait until every queued record is stored; raise StoreFailed if any was not."""
        self._queue.put(_STOP)
        self._thread.join()
        if self.error is not None:
            raise StoreFailed() from self.error

    def _statement(self, conn) -> str:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        return (f"INSERT INTO {RunRecord.__tablename__} ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join([mark] * len(COLUMNS))})")

    def _loop(self) -> None:
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                # WAL stays consistent with NORMAL; a crash may lose the last pages of a run,
                # which then ends failed anyway.
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            statement = self._statement(conn)
            done = False
            while not done:
                pages = [self._queue.get()]
                size = 0 if pages[0] is _STOP else len(pages[0][2])
                while size < FLUSH_ROWS:
                    try:
                        page = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    pages.append(page)
                    if page is _STOP:
                        break
                    size += len(page[2])
                done = pages[-1] is _STOP
                pages = [p for p in pages if p is not _STOP]
                if pages and self.error is None:
                    started = time.perf_counter()
                    try:
                        self._insert(conn, statement, pages)
                        self.busy_s += time.perf_counter() - started
                    except Exception as exc:  # readers see it at their next page
                        log.exception("storing records of run %s failed", self.run_id)
                        self.error = exc
                        conn.rollback()

    def _insert(self, conn, statement: str, pages: list[tuple[int, str, list[Record]]]) -> None:
        run_id = self.run_id
        dumps = orjson.dumps
        rows = []
        for rank, entity, records in pages:
            a, b = REFERENCES.get(entity, ("", ""))
            for r in records:
                data = r.data
                rows.append((run_id, entity, r.sourced_id, rank, r.status or "active",
                             r.date_last_modified, False, _ref(data.get(a)) if a else None,
                             _ref(data.get(b)) if b else None, dumps(data).decode()))
        conn.exec_driver_sql(statement, rows)
        conn.commit()
        self.stored += len(rows)


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
