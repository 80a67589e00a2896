"""The run engine: the "flow.run" job that reads every source, stores, merges and checks.

Each source reads in a thread of its own (a source's collections are fetched concurrently by
its client); records go to one writer thread (webapp/runs/store.py). The job's own thread
watches: it reports progress a few times a second, notices a cancel request and sets the
event every reader checks. When the readers are done it settles the merge precedence,
counts and runs the integrity report; the artifact is then written by its own job
(webapp/runs/output.py).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import delete, tuple_
from sqlalchemy.exc import OperationalError

from webapp import jobs
from webapp.connections import verdicts
from webapp.connections.services import open_source
from webapp.extensions import db
from webapp.models import CollectionState, Job, Run, RunRecord, RunReference, RunStatus
from webapp.models.common import utcnow
from webapp.plugin_api import (
    ConfigInvalid,
    FetchResult,
    SourceError,
    SourcePlugin,
    SourceUnavailable,
)
from webapp.plugins import registry
from webapp.runs import integrity, outcome, output, references, retention
from webapp.runs.artifacts import artifacts_dir
from webapp.runs.progress import LiveProgress
from webapp.runs.store import RecordWriter, StoreFailed
from webapp.runs.tally import Tally

log = logging.getLogger(__name__)

KIND = "flow.run"
REPORT_EVERY_S = 0.5  # progress written at most twice a second
INTERNAL = "The run stopped because of an internal error; it has been logged."


@dataclass
class Reader:
    """One source node's read, run in a thread."""

    node: str
    rank: int
    plugin: SourcePlugin | None
    entities: tuple[str, ...]
    since: str | None
    result: FetchResult | BaseException | None = None


@jobs.handler(KIND)
def run_flow(ctx: jobs.JobContext) -> dict[str, Any]:
    """Run a flow (or retry a run's unfinished collections)."""
    return Engine(ctx).execute()


@jobs.on_interrupted(KIND)
def interrupted(job: Job) -> None:
    """Fail the run of a job whose worker died, so it does not stay Running forever."""
    run = db.session.scalar(db.select(Run).where(Run.job_id == job.id))
    if run is not None:
        outcome.mark_failed(run, "Interrupted: the worker running this run stopped.")


class Engine:
    """One attempt at a run: the first, or a retry of the collections that did not finish."""

    def __init__(self, ctx: jobs.JobContext) -> None:
        self.ctx = ctx
        self.run_id: int = ctx.params["run_id"]
        self.retry: bool = bool(ctx.params.get("retry"))
        self.app = current_app._get_current_object()
        self.cancel = threading.Event()
        self.progress: LiveProgress | None = None
        self.stored = 0
        self.user_cancelled = False
        self.timings: dict[str, float] = {}
        self.tally: Tally | None = None
        self._clock = time.perf_counter()

    def _lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._clock, 3)
        self._clock = now

    def execute(self) -> dict[str, Any]:
        run = db.session.get(Run, self.run_id)
        if run is None:  # deleted, with its flow or organization, before its turn came
            return {"run_id": self.run_id, "status": "deleted"}
        done = False
        try:
            readers = self._prepare(run)
            self._lap("prepare_s")
            self._fetch(run, readers)
            self._lap("read_s")
            done = self._deleted()
            if done:
                return {"run_id": self.run_id, "status": "deleted", "timings": self.timings}
            self._finish(run, readers)
            done = True
        except jobs.JobCancelled:
            done = True
            raise
        finally:
            if not done:
                db.session.rollback()
                run = db.session.get(Run, self.run_id)
                if run is not None:  # unless deleted meanwhile: then nothing is left to mark
                    outcome.mark_failed(run, INTERNAL)
                    db.session.commit()
        return {"run_id": run.id, "status": str(run.status), "counts": run.counts,
                "timings": self.timings}

    def _deleted(self) -> bool:
        """Whether the run was deleted while it read; if so, delete what it stored since.

        The database deletes a run's records with the run (see RUN_ROWS_GO_WITH_THE_RUN), but
        not those its writers stored after that: by now they have all stored what they will.
        """
        db.session.expire_all()
        if db.session.get(Run, self.run_id) is not None:
            return False
        for table in (RunRecord, RunReference):
            db.session.execute(delete(table).where(table.run_id == self.run_id))
        db.session.commit()
        log.info("run %s was deleted while it read; its records are gone too", self.run_id)
        return True

    # Before: which collections to read, and from where.

    def _prepare(self, run: Run) -> list[Reader]:
        targets = self._targets(run)
        readers = []
        for source in run.sources:
            entities = tuple(e for n, e in targets if n == source["node"])
            if entities:
                readers.append(self._reader(run, source, entities))
        if self.retry:
            keys = [(r.rank, e) for r in readers for e in r.entities]
            db.session.execute(delete(RunRecord).where(
                RunRecord.run_id == run.id,
                tuple_(RunRecord.source_rank, RunRecord.entity).in_(keys)))
        wanted = set(targets)
        for collection in run.collections:
            if (collection.source_node, collection.entity) in wanted:
                collection.state = CollectionState.PENDING
                collection.records = collection.pages = collection.retries = 0
                collection.duplicates = collection.requests = 0
                collection.total = collection.elapsed_s = collection.error = None
                collection.warnings = None
        run.status = RunStatus.RUNNING
        run.error = None
        run.started_at = run.started_at or utcnow()
        run.finished_at = None
        db.session.commit()
        self.progress = LiveProgress([f"{n}:{e}" for n, e in targets])
        return readers

    def _reader(self, run: Run, source: dict[str, Any], entities: tuple[str, ...]) -> Reader:
        """Return the read of one source node, its plugin opened (or why it cannot be)."""
        reader = Reader(source["node"], source["rank"], None, entities, source.get("since"))
        try:
            cls = registry().sources.get(source["plugin"])
            if cls is None:
                raise SourceUnavailable(
                    "Plugin not installed",
                    f"The source plugin {source['plugin']!r} is not installed.")
            reader.plugin = open_source(cls, source["config"],
                                        organization_id=run.organization_id,
                                        reason="flow run", actor_id=self.ctx.created_by_id)
        except (SourceUnavailable, ConfigInvalid) as exc:
            reader.result = exc
        return reader

    def _targets(self, run: Run) -> list[tuple[str, str]]:
        if not self.retry:
            return [(c.source_node, c.entity) for c in run.collections]
        return [(c.source_node, c.entity) for c in run.collections
                if c.state != CollectionState.COMPLETED]

    # During: readers in threads, the job thread watching.

    def _fetch(self, run: Run, readers: list[Reader]) -> None:
        writer = RecordWriter(db.engine, run.id).start()
        threads = []
        for reader in readers:
            if reader.plugin is None:
                continue
            thread = threading.Thread(target=self._read, args=(reader, writer),
                                      name=f"sdm-run-{run.id}-{reader.node}", daemon=True)
            thread.start()
            threads.append(thread)
        try:
            self._watch(threads, writer)
        except BaseException:
            self.cancel.set()  # stop the readers before giving up on the run
            for thread in threads:
                thread.join(timeout=30)
            writer.abandon()
            raise
        try:
            writer.close()
        except StoreFailed as exc:
            for reader in readers:
                if not isinstance(reader.result, BaseException):
                    reader.result = exc
        self.stored = writer.stored
        self.tally = None if writer.failed else writer.tally  # it counted what was handed over
        self.timings["store_busy_s"] = round(writer.busy_s, 3)
        self.timings["store_cpu_s"] = round(writer.cpu_s, 3)
        self.timings["readers_waited_s"] = round(writer.waited_s, 3)

    def _read(self, reader: Reader, writer: RecordWriter) -> None:
        with self.app.app_context():
            try:
                reader.result = reader.plugin.read(
                    reader.entities, sink=writer.sink(reader.rank),
                    progress=self.progress.callback(reader.node), cancel=self.cancel,
                    since=reader.since)
            except BaseException as exc:  # reported per collection; never lost
                if not isinstance(exc, SourceError | SourceUnavailable | StoreFailed):
                    log.exception("source %s of run %s failed", reader.node, self.run_id)
                reader.result = exc

    def _watch(self, threads: list[threading.Thread], writer: RecordWriter) -> None:
        reported = 0.0
        version = -1
        while alive := [t for t in threads if t.is_alive()]:
            alive[0].join(0.1)  # it may have ended since: join returns at once then
            now = time.monotonic()
            if writer.failed:
                self.cancel.set()
            if not self.user_cancelled and self.ctx.cancelled():
                self.user_cancelled = True
                self.cancel.set()
            if self.progress.version != version and now - reported >= REPORT_EVERY_S:
                reported, version = now, self.progress.version
                self._report("reading", writer.stored)
        self._report("finishing", writer.stored)

    def _report(self, stage: str, stored: int) -> None:
        """Write the progress on the job row; a busy database skips a report, not the run."""
        try:
            self.ctx.report({"stage": stage, "stored": stored,
                             "collections": self.progress.snapshot()})
        except OperationalError:
            log.warning("progress of run %s not written this time", self.run_id)
            db.session.rollback()

    # After: per-collection status, merge, counts, integrity, output.

    def _finish(self, run: Run, readers: list[Reader]) -> None:
        db.session.expire_all()
        run = db.session.get(Run, self.run_id)
        by_key = {(c.source_node, c.entity): c for c in run.collections}
        for reader in readers:
            for entity in reader.entities:
                collection = by_key[(reader.node, entity)]
                outcome.settle(collection, reader.result, self.progress.get(collection.key),
                               self.user_cancelled)
        cancelled = self.user_cancelled
        open_ = [c for c in run.collections if c.state != CollectionState.COMPLETED]
        tally = self.tally
        if self.retry or tally is None or tally.repeated:
            same, across = integrity.duplicates(run.id)
        else:
            same, across = {}, {}  # no sourcedId was stored twice: nothing to merge
        merged = bool(same or across)
        integrity.resolve(run.id, needed=merged, again=self.retry)
        entities = sorted({c.entity for c in run.collections}, key=outcome.entity_order)
        known = tally is not None and not (merged or self.retry)  # it is the whole story
        found = tally.counts() if known else integrity.counts(run.id, merged=merged)
        run.counts = {e: found.get(e, 0) for e in entities}
        self._lap("merge_s")
        run.integrity = run.output = None
        if run.artifact:  # a retried run's earlier bundle no longer matches its records
            (artifacts_dir() / run.artifact).unlink(missing_ok=True)
            run.artifact = None
        if cancelled or open_:
            outcome.ended_short(run, cancelled, len(open_))
        else:
            self._complete(run, entities, same, across, merged, tally if known else None)
        run.finished_at = utcnow()
        db.session.commit()
        self._report("done", self.stored)
        if cancelled:
            raise jobs.JobCancelled()
        if output.pending(run):
            output.start(run, self.ctx.created_by_id)
        if RunStatus(run.status).succeeded:
            self._prune(run)

    def _prune(self, run: Run) -> None:
        """Apply run retention; a failure to delete old runs leaves this run as it is."""
        try:
            retention.prune(run)
        except Exception:
            log.exception("removing earlier runs of flow %s failed", run.flow_id)
            db.session.rollback()

    def _complete(self, run: Run, entities: list[str], same: dict[str, int],
                  across: dict[str, int], merged: bool, tally: Tally | None) -> None:
        """Check the stored records; `tally` is the writer's, when it tells the whole story."""
        modes = outcome.modes(run, entities)
        delta = any(m == "delta" for m in modes.values())
        db.session.commit()  # what is settled so far stays, whatever happens to the report
        self._report("checking", self.stored)
        if tally is not None and tally.plain:
            tally.unresolved = references.unresolved(run.id)
        found = integrity.report(run.id, entities, delta=delta, overlaps=across,
                                 same_source=same, merged=merged or self.retry,
                                 deleted=tally.counts(tobedeleted=True) if tally else None,
                                 references=tally if tally and tally.plain else None)
        found.warnings[:0] = integrity.total_findings(run.collections)
        found.info[:0] = integrity.withheld_findings(run.collections)
        run.integrity = found.to_dict()
        self._lap("integrity_s")
        run.status = (RunStatus.COMPLETED_WITH_WARNINGS if found.warnings
                      else RunStatus.COMPLETED)
        verdicts.record_run(run)  # a run that read everything shows its connection works
        absent = outcome.withheld(run)
        output.prepare(run, {e: m for e, m in modes.items() if e not in absent}, absent)
