"""Where jobs run: inline (tests), on an in-process thread pool, or on RQ workers via Redis.

A job is a row in the ``jobs`` table. Workers receive its id, never an ORM object, run it in
an app context of their own and always write a terminal status.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app

from webapp.extensions import db
from webapp.jobs.abandoned import HEARTBEAT_S, Watch
from webapp.jobs.kinds import JobCancelled, JobContext, JobsUnavailable, Kinds
from webapp.models import Job, JobStatus
from webapp.models.common import utcnow

log = logging.getLogger(__name__)


class Runner(ABC):
    """Start jobs of the kinds registered with it. Subclasses decide where and when they run."""

    def __init__(self, kinds: Kinds | None = None) -> None:
        self.kinds = kinds if kinds is not None else Kinds()

    def create(self, kind: str, *, organization_id: int | None = None,
               subject: Any = None, created_by_id: int | None = None,
               **params: Any) -> Job:
        """Create a queued job row (committed) without starting it; `dispatch` starts it."""
        if kind not in self.kinds:
            raise KeyError(f"No job handler registered for {kind!r}")
        self.check()  # nothing is written for a job that could not be started
        job = Job(
            kind=kind,
            organization_id=organization_id,
            subject_type=type(subject).__name__.lower() if subject is not None else None,
            subject_id=str(subject.id) if subject is not None else None,
            created_by_id=created_by_id,
            params=params,
            heartbeat_at=utcnow(),  # alive from birth: a sweep before the first beat spares it
        )
        db.session.add(job)
        db.session.commit()
        return job

    def submit(self, kind: str, *, organization_id: int | None = None,
               subject: Any = None, created_by_id: int | None = None,
               **params: Any) -> Job:
        """Create the job row and hand it to a worker."""
        job = self.create(kind, organization_id=organization_id, subject=subject,
                          created_by_id=created_by_id, **params)
        try:
            self.dispatch(job.id)
        except JobsUnavailable:
            self.discard(job)
            raise
        return job

    @staticmethod
    def discard(job: Job) -> None:
        """Delete a created job that could not be handed to a worker."""
        db.session.rollback()
        db.session.execute(db.delete(Job).where(Job.id == job.id))
        db.session.commit()

    @abstractmethod
    def dispatch(self, job_id: str) -> None:
        """Hand a created job to a worker."""

    def cancel(self, job_id: str) -> None:
        """Ask a job to stop at its next check."""
        job = db.session.get(Job, job_id)
        if job is not None and not JobStatus(job.status).terminal:
            job.cancel_requested = True
            db.session.commit()

    def holds(self, job_id: str) -> bool:
        """Tell whether a job still waits in this runner's queue (and so is not abandoned)."""
        return False

    def check(self) -> None:  # noqa: B027 - in-process runners are always reachable
        """Raise JobsUnavailable when jobs cannot be started now."""

    def shutdown(self) -> None:  # noqa: B027 - optional for runners without resources
        """Stop accepting work."""


class SyncRunner(Runner):
    """Run each job inline, before submit returns. Tests use it."""

    def dispatch(self, job_id: str) -> None:
        execute(job_id)


class ThreadRunner(Runner):
    """Run jobs on a bounded in-process thread pool, watched by a Watch of its own."""

    def __init__(self, workers: int, kinds: Kinds | None = None) -> None:
        super().__init__(kinds)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sdm-job")
        self._watch: Watch | None = None

    def start(self, app: Flask) -> None:
        """Start beating and sweeping for the app this runner serves."""
        # The first sweep comes one beat after start-up, once the schema is surely there.
        self._watch = Watch(app, first_sweep_s=HEARTBEAT_S).start()

    def dispatch(self, job_id: str) -> None:
        app = current_app._get_current_object()
        if self._watch is not None:
            self._watch.hold(job_id)
        future = self._executor.submit(self._run, app, job_id)
        future.add_done_callback(_log_failure)

    def _run(self, app: Flask, job_id: str) -> None:
        try:
            with app.app_context():
                execute(job_id)
        finally:
            if self._watch is not None:
                self._watch.release(job_id)

    def shutdown(self) -> None:
        if self._watch is not None:
            self._watch.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)


class RQRunner(Runner):
    """Queue jobs in Redis; `flask sdm worker` processes on any machine run them.

    A worker beats for the job it runs and sweeps while it waits (see Watch); a job still
    waiting in the queue is held by Redis, so neither is mistaken for an abandoned one.
    """

    QUEUE = "sdm"
    WAITING = frozenset({"queued", "deferred", "scheduled"})

    def __init__(self, redis_url: str, kinds: Kinds | None = None) -> None:
        from redis import Redis
        from rq import Queue

        super().__init__(kinds)
        # Short timeouts: an unreachable Redis is an answer within seconds, not a hung request.
        self.connection = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.queue = Queue(self.QUEUE, connection=self.connection)
        self.watch: Watch | None = None  # set while this process works the queue

    def dispatch(self, job_id: str) -> None:
        from redis.exceptions import RedisError

        try:
            self.queue.enqueue(run_queued, job_id, job_id=f"sdm-{job_id}", job_timeout=-1,
                               result_ttl=0, failure_ttl=24 * 3600)
        except RedisError as exc:
            raise JobsUnavailable(_redis_problem(exc)) from exc

    def check(self) -> None:
        from redis.exceptions import RedisError

        try:
            self.connection.ping()
        except RedisError as exc:
            raise JobsUnavailable(_redis_problem(exc)) from exc

    def holds(self, job_id: str) -> bool:
        from redis.exceptions import RedisError
        from rq.exceptions import NoSuchJobError
        from rq.job import Job as QueuedJob

        try:
            queued = QueuedJob.fetch(f"sdm-{job_id}", connection=self.connection)
            return queued.get_status(refresh=True).value in self.WAITING
        except NoSuchJobError:
            return False
        except RedisError:  # cannot ask: never call a job abandoned on a guess
            return True

    def work(self, app: Flask, burst: bool = False) -> None:
        """Run queued jobs in this process until stopped (or until the queue is empty)."""
        from rq import SimpleWorker

        self.watch = Watch(app).start()
        try:
            with app.app_context():
                SimpleWorker([self.queue], connection=self.connection).work(
                    burst=burst, with_scheduler=False, logging_level="WARNING")
        finally:
            self.watch.stop()
            self.watch = None


def _redis_problem(exc: Exception) -> str:
    """Describe a Redis failure without the URL (which may carry a password)."""
    from redis.exceptions import AuthenticationError, TimeoutError

    if isinstance(exc, AuthenticationError):
        return "the job queue (Redis) refused our credentials."
    if isinstance(exc, TimeoutError):
        return "the job queue (Redis) did not answer in time."
    return "the job queue (Redis) cannot be reached. Try again in a few minutes."


def run_queued(job_id: str) -> None:
    """Run a job taken from the Redis queue, beating while it runs."""
    watch = current_app.extensions["sdm.jobs"].watch
    if watch is not None:
        watch.hold(job_id)
    try:
        execute(job_id)
    finally:
        if watch is not None:
            watch.release(job_id)


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
        result = current_app.extensions["sdm.jobs"].kinds.run(job.kind)(context)
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
