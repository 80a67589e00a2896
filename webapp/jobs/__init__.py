"""Background jobs: a runner interface, an in-process thread pool, and a synchronous runner.

A job is a row in the ``jobs`` table. Workers receive its id, never an ORM object, run it in
an app context of their own and always write a terminal status. Handlers are plain functions
registered by kind; nothing here assumes the job runs in the web process.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.models.common import utcnow

log = logging.getLogger(__name__)

Handler = Callable[["JobContext"], dict[str, Any] | None]
InterruptedHandler = Callable[[Job], None]
_handlers: dict[str, Handler] = {}
_interrupted: dict[str, InterruptedHandler] = {}

# A worker beats every HEARTBEAT_S for each job it holds; a job silent for STALE_AFTER is
# abandoned; every worker, scheduler and in-process runner sweeps every SWEEP_S. A job whose
# worker dies is therefore marked interrupted at most STALE_AFTER + SWEEP_S after its last beat
# (20 s), and WORST_CASE (22 s) even counting a whole beat interval as lost: inside the 30 s
# promised to a person, with room for a slow sweep. STALE_AFTER is seven missed beats, so a
# worker busy with a slow statement (SQLite waits up to 10 s for its lock) is not taken for dead.
HEARTBEAT_S = 2.0
STALE_AFTER = timedelta(seconds=15)
SWEEP_S = 5.0
WORST_CASE = STALE_AFTER + timedelta(seconds=SWEEP_S + HEARTBEAT_S)
INTERRUPTED = "Interrupted: the worker running this job stopped."


class JobCancelled(Exception):
    """Raised inside a handler when someone asked for the job to stop."""


class JobsUnavailable(Exception):
    """The job backend cannot be reached, so no job can start now."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.public_message = f"Background jobs are unavailable: {detail}"


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of a kind."""

    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        return fn

    return register


def on_interrupted(kind: str) -> Callable[[InterruptedHandler], InterruptedHandler]:
    """Register what to tidy up when a job of a kind is found abandoned by its worker.

    The function receives the job row, already marked failed, inside the sweeping session;
    it changes what it owns and leaves the commit to the sweep.
    """

    def register(fn: InterruptedHandler) -> InterruptedHandler:
        _interrupted[kind] = fn
        return fn

    return register


CANCEL_CHECK_S = 0.5  # a job reads its cancel request at most this often


class JobContext:
    """What a handler sees of its job: parameters, progress reports and cancellation."""

    def __init__(self, job: Job) -> None:
        self._cancel_read_at = 0.0
        self._cancel_asked = False
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
        """Store the job's progress (and prove it is alive); commits the session."""
        job = self.job
        job.progress = progress
        job.heartbeat_at = utcnow()
        db.session.commit()

    def cancelled(self) -> bool:
        """Tell whether someone asked the job to stop.

        Cheap to ask often: the job row is read at most every CANCEL_CHECK_S, and once asked
        to stop the answer stays yes.
        """
        now = time.monotonic()
        if not self._cancel_asked and now - self._cancel_read_at >= CANCEL_CHECK_S:
            self._cancel_read_at = now
            db.session.expire_all()
            job = self.job
            self._cancel_asked = bool(job and job.cancel_requested)
        return self._cancel_asked

    is_set = cancelled  # a job's context serves where a threading.Event is asked is_set()


class Runner(ABC):
    """Start jobs. Subclasses decide where and when they run."""

    def create(self, kind: str, *, organization_id: int | None = None,
               subject: Any = None, created_by_id: int | None = None,
               **params: Any) -> Job:
        """Create a queued job row (committed) without starting it; `dispatch` starts it."""
        if kind not in _handlers:
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


class Watch:
    """Beat for the jobs this process holds and sweep abandoned jobs of any process.

    One daemon thread per process that runs jobs (or schedules them): it writes the heartbeat
    of every held job, queued or running, every HEARTBEAT_S, so a job waiting for a free worker
    is not mistaken for an abandoned one, and it sweeps every SWEEP_S, busy or idle.
    """

    def __init__(self, app: Flask, *, first_sweep_s: float = 0.0) -> None:
        self._app = app
        self._first_sweep_s = first_sweep_s
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def start(self) -> Watch:
        """Start the thread; return self."""
        threading.Thread(target=self._loop, daemon=True, name="sdm-job-watch").start()
        return self

    def stop(self) -> None:
        """End the thread at its next wake-up."""
        self._stop.set()

    def hold(self, job_id: str) -> None:
        """Beat for a job from now on."""
        with self._lock:
            self._held.add(job_id)

    def release(self, job_id: str) -> None:
        """Stop beating for a job."""
        with self._lock:
            self._held.discard(job_id)

    def _loop(self) -> None:
        now = time.monotonic()
        next_beat, next_sweep = now + HEARTBEAT_S, now + self._first_sweep_s
        while not self._stop.wait(max(0.0, min(next_beat, next_sweep) - time.monotonic())):
            if time.monotonic() >= next_beat:
                with self._lock:
                    held = list(self._held)
                if held:
                    beat(self._app, held)
                next_beat = time.monotonic() + HEARTBEAT_S
            if time.monotonic() >= next_sweep:
                _sweep(self._app)
                next_sweep = time.monotonic() + SWEEP_S


class ThreadRunner(Runner):
    """Run jobs on a bounded in-process thread pool, watched by a Watch of its own."""

    def __init__(self, workers: int) -> None:
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


def beat(app: Flask, job_ids: list[str]) -> None:
    """Write the heartbeat of unfinished jobs; a failed beat is logged, the next one retries."""
    try:
        with app.app_context():
            db.session.execute(
                db.update(Job)
                .where(Job.id.in_(job_ids),
                       Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
                .values(heartbeat_at=utcnow())
            )
            db.session.commit()
    except SQLAlchemyError:
        log.exception("job heartbeat failed")


class RQRunner(Runner):
    """Queue jobs in Redis; `flask sdm worker` processes on any machine run them.

    A worker beats for the job it runs and sweeps while it waits (see Watch); a job still
    waiting in the queue is held by Redis, so neither is mistaken for an abandoned one.
    """

    QUEUE = "sdm"
    WAITING = frozenset({"queued", "deferred", "scheduled"})

    def __init__(self, redis_url: str) -> None:
        from redis import Redis
        from rq import Queue

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
    watch = runner().watch
    if watch is not None:
        watch.hold(job_id)
    try:
        execute(job_id)
    finally:
        if watch is not None:
            watch.release(job_id)


def _sweep(app: Flask) -> None:
    try:
        with app.app_context():
            recover_stale()
    except SQLAlchemyError as exc:  # e.g. the schema is not there yet; the next sweep retries
        log.warning("sweeping abandoned jobs failed: %s", exc.__class__.__name__)


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


def is_stale(job: Job, now: datetime | None = None) -> bool:
    """Tell whether an unfinished job's worker has stopped beating."""
    if JobStatus(job.status).terminal:
        return False
    last_sign = job.heartbeat_at or job.created_at
    return last_sign < (now or utcnow()) - STALE_AFTER and not runner().holds(job.id)


def recover_stale(now: datetime | None = None) -> list[Job]:
    """Mark unfinished jobs whose worker stopped beating as failed; return them."""
    cutoff = (now or utcnow()) - STALE_AFTER
    stale = db.session.scalars(
        db.select(Job).where(Job.status.in_([JobStatus.RUNNING, JobStatus.QUEUED]),
                             db.func.coalesce(Job.heartbeat_at, Job.created_at) < cutoff)
    ).all()
    stale = [job for job in stale if not runner().holds(job.id)]
    recovered = [job for job in stale if mark_interrupted(job, cutoff)]
    db.session.commit()
    return recovered


def mark_interrupted(job: Job, cutoff: datetime | None = None) -> bool:
    """Fail an abandoned job and let its kind tidy up; the caller commits.

    The job is claimed with a conditional update, so of two sweeps only one tidies up; with a
    cutoff, a job that beat again since (or finished) is left alone. False when not claimed.
    """
    unfinished = [Job.id == job.id, Job.status.in_([JobStatus.RUNNING, JobStatus.QUEUED])]
    if cutoff is not None:
        unfinished.append(db.func.coalesce(Job.heartbeat_at, Job.created_at) < cutoff)
    claimed = db.session.execute(
        db.update(Job).where(*unfinished)
        .values(status=JobStatus.FAILED, error=INTERRUPTED, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(job)
    if not claimed:
        return False
    tidy = _interrupted.get(job.kind)
    if tidy is not None:
        tidy(job)
    return True


def runner() -> Runner:
    """Return the current app's job runner."""
    return current_app.extensions["sdm.jobs"]


def init_app(app: Flask) -> None:
    """Choose the job runner from SDM_JOBS."""
    backend = app.config["JOBS"]
    if backend == "sync":
        app.extensions["sdm.jobs"] = SyncRunner()
    elif backend == "thread":
        thread_runner = ThreadRunner(app.config["JOB_WORKERS"])
        thread_runner.start(app)
        app.extensions["sdm.jobs"] = thread_runner
    elif backend == "rq":
        app.extensions["sdm.jobs"] = RQRunner(app.config["REDIS_URL"])
    else:
        raise ValueError(f"SDM_JOBS must be 'thread', 'rq' or 'sync', not {backend!r}")
