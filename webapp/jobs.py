"""Background jobs: a runner interface, an in-process thread pool, and a synchronous runner.

A job is a row in the ``jobs`` table. Workers receive its id, never an ORM object, run it in
an app context of their own and always write a terminal status. Handlers are plain functions
registered by kind; nothing here assumes the job runs in the web process.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from flask import Flask, current_app

from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.models.common import utcnow

log = logging.getLogger(__name__)

Handler = Callable[["JobContext"], dict[str, Any] | None]
_handlers: dict[str, Handler] = {}

HEARTBEAT_S = 5.0
STALE_AFTER = timedelta(seconds=30)


class JobCancelled(Exception):
    """Raised inside a handler when someone asked for the job to stop."""


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of a kind."""

    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        return fn

    return register


class JobContext:
    """What a handler sees of its job: parameters, progress reports and cancellation."""

    def __init__(self, job: Job) -> None:
        self.job_id = job.id
        self.kind = job.kind
        self.params = dict(job.params or {})
        self.subject_id = job.subject_id
        self.organization_id = job.organization_id
        self.created_by_id = job.created_by_id

    @property
    def job(self) -> Job:
        return db.session.get(Job, self.job_id)

    def report(self, progress: dict[str, Any]) -> None:
        """Store the job's progress (and prove it is alive)."""
        job = self.job
        job.progress = progress
        job.heartbeat_at = utcnow()
        db.session.commit()

    def cancelled(self) -> bool:
        """Tell whether someone asked the job to stop."""
        db.session.expire_all()
        job = self.job
        return bool(job and job.cancel_requested)


class Runner(ABC):
    """Start jobs. Subclasses decide where and when they run."""

    def submit(self, kind: str, *, organization_id: int | None = None,
               subject: Any = None, created_by_id: int | None = None,
               **params: Any) -> Job:
        """Create the job row and hand it to a worker."""
        if kind not in _handlers:
            raise KeyError(f"No job handler registered for {kind!r}")
        job = Job(
            kind=kind,
            organization_id=organization_id,
            subject_type=type(subject).__name__.lower() if subject is not None else None,
            subject_id=str(subject.id) if subject is not None else None,
            created_by_id=created_by_id,
            params=params,
        )
        db.session.add(job)
        db.session.commit()
        self.dispatch(job.id)
        return job

    @abstractmethod
    def dispatch(self, job_id: str) -> None:
        """Hand a created job to a worker."""

    def cancel(self, job_id: str) -> None:
        """Ask a job to stop at its next check."""
        job = db.session.get(Job, job_id)
        if job is not None and not JobStatus(job.status).terminal:
            job.cancel_requested = True
            db.session.commit()

    def shutdown(self) -> None:
        """Stop accepting work."""


class SyncRunner(Runner):
    """Run each job inline, before submit returns. Tests use it."""

    def dispatch(self, job_id: str) -> None:
        execute(job_id)


class ThreadRunner(Runner):
    """Run jobs on a bounded in-process thread pool."""

    def __init__(self, workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sdm-job")
        self._running: dict[str, Flask] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._heartbeat, daemon=True, name="sdm-job-heartbeat").start()

    def dispatch(self, job_id: str) -> None:
        app = current_app._get_current_object()
        future = self._executor.submit(self._run, app, job_id)
        future.add_done_callback(_log_failure)

    def _run(self, app: Flask, job_id: str) -> None:
        with self._lock:
            self._running[job_id] = app
        try:
            with app.app_context():
                execute(job_id)
        finally:
            with self._lock:
                self._running.pop(job_id, None)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                running = list(self._running.items())
            for job_id, app in running:
                try:
                    with app.app_context():
                        db.session.execute(
                            db.update(Job)
                            .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
                            .values(heartbeat_at=utcnow())
                        )
                        db.session.commit()
                except Exception:  # the next beat tries again
                    log.exception("job heartbeat failed")

    def shutdown(self) -> None:
        self._stop.set()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _log_failure(future: Future) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("job worker crashed", exc_info=exc)


def execute(job_id: str) -> None:
    """Run one job to a terminal state. Call inside an app context."""
    job = db.session.get(Job, job_id)
    if job is None or JobStatus(job.status).terminal:
        return
    job.status = JobStatus.RUNNING
    job.started_at = job.heartbeat_at = utcnow()
    db.session.commit()
    context = JobContext(job)
    status, result, error = JobStatus.FAILED, None, "The job stopped unexpectedly."
    try:
        result = _handlers[job.kind](context)
        status, error = JobStatus.SUCCEEDED, None
    except JobCancelled:
        status, error = JobStatus.CANCELLED, "Cancelled."
    except Exception as exc:
        log.exception("job %s (%s) failed", job_id, job.kind)
        error = getattr(exc, "public_message", None) or "The job failed with an internal error."
    finally:
        db.session.rollback()
        job = db.session.get(Job, job_id)
        job.status = status
        job.result = result
        job.error = error
        job.finished_at = utcnow()
        db.session.commit()


def recover_stale(now=None) -> list[Job]:
    """Mark running jobs whose worker stopped beating as failed; return them."""
    cutoff = (now or utcnow()) - STALE_AFTER
    stale = db.session.scalars(
        db.select(Job).where(Job.status.in_([JobStatus.RUNNING, JobStatus.QUEUED]),
                             db.func.coalesce(Job.heartbeat_at, Job.created_at) < cutoff)
    ).all()
    for job in stale:
        job.status = JobStatus.FAILED
        job.error = "Interrupted: the worker running this job stopped."
        job.finished_at = utcnow()
    if stale:
        db.session.commit()
    return stale


def runner() -> Runner:
    """Return the current app's job runner."""
    return current_app.extensions["sdm.jobs"]


def init_app(app: Flask) -> None:
    """Choose the job runner from SDM_JOBS."""
    backend = app.config["JOBS"]
    if backend == "sync":
        app.extensions["sdm.jobs"] = SyncRunner()
    elif backend == "thread":
        app.extensions["sdm.jobs"] = ThreadRunner(app.config["JOB_WORKERS"])
    else:
        raise ValueError(f"SDM_JOBS must be 'thread' or 'sync', not {backend!r}")
