"""Storing a run's records as they arrive: a writer thread fed through a bounded queue.

Readers (the sources' fetch threads) hand over a page of records and go back to the network;
the writer turns pages into rows and inserts them with executemany, so database writes
overlap network waits. The queue's bound is what keeps memory flat: when the database falls
behind, readers wait instead of piling records up.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, func, insert, select

from plugins.source_oneroster.model import Record, Sink
from webapp.extensions import db
from webapp.models import RunRecord
from webapp.plugin_api import RunData, StoredRecord

log = logging.getLogger(__name__)

QUEUE_PAGES = 8  # pages waiting for the writer; readers block beyond this
FLUSH_ROWS = 5000  # rows per transaction at most
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_TABLE = RunRecord.__table__
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
                self._queue.put((rank, entity, records))

        return put

    def close(self) -> None:
        """Wait until every queued record is stored; raise StoreFailed if any was not."""
        self._queue.put(_STOP)
        self._thread.join()
        if self.error is not None:
            raise StoreFailed() from self.error

    def _loop(self) -> None:
        with self.engine.connect() as conn:
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
                    try:
                        self._insert(conn, pages)
                    except Exception as exc:  # readers see it at their next page
                        log.exception("storing records of run %s failed", self.run_id)
                        self.error = exc
                        conn.rollback()

    def _insert(self, conn, pages: list[tuple[int, str, list[Record]]]) -> None:
        run_id = self.run_id
        rows = [
            {"run_id": run_id, "entity": entity, "sourced_id": r.sourced_id,
             "source_rank": rank, "status": r.status or "active",
             "date_last_modified": r.date_last_modified, "superseded": False,
             "data": _encode(r.data)}
            for rank, entity, records in pages for r in records
        ]
        conn.execute(insert(_TABLE), rows)
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
                yield StoredRecord(sourced_id, status, modified, json.loads(data))
            if len(rows) < self._batch:
                return
            after = rows[-1][0]


def _winners(run_id: int, entity: str) -> Sequence[Any]:
    return (RunRecord.run_id == run_id, RunRecord.entity == entity,
            RunRecord.superseded.is_(False))
