"""Abandoned jobs: heartbeats, the one sweep that marks them interrupted, and the Watch thread.

A worker beats every HEARTBEAT_S for each job it holds; a job silent for STALE_AFTER is
abandoned; every worker, scheduler and in-process runner runs a Watch that sweeps every
SWEEP_S. A job whose worker dies is therefore marked interrupted at most STALE_AFTER +
SWEEP_S after its last beat (20 s), and WORST_CASE (22 s) even counting a whole beat interval
as lost: inside the 30 s promised to a person, with room for a slow sweep. STALE_AFTER is
seven missed beats, so a worker busy with a slow statement (SQLite waits up to 10 s for its
lock) is not taken for dead.

Only the sweep writes the verdict. A page that polls a job asks `is_stale` and shows what the
sweep is about to write, without writing it.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.models.common import utcnow

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
STALE_AFTER = timedelta(seconds=15)
SWEEP_S = 5.0
WORST_CASE = STALE_AFTER + timedelta(seconds=SWEEP_S + HEARTBEAT_S)
INTERRUPTED = "Interrupted: the worker running this job stopped."
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)
# A job given a time budget (params["budget_s"], as connection tests are) that runs this long
# past it is lost even while its worker beats: the sweep asks it to stop and ends it.
OVERRUN_GRACE = timedelta(seconds=15)


def is_stale(job: Job, now: datetime | None = None) -> bool:
    """Tell whether an unfinished job's worker has stopped beating (reads only)."""
    if JobStatus(job.status).terminal:
        return False
    last_sign = job.heartbeat_at or job.created_at
    runner = current_app.extensions["sdm.jobs"]
    return last_sign < (now or utcnow()) - STALE_AFTER and not runner.holds(job.id)


def overran(job: Job, now: datetime | None = None) -> bool:
    """Tell whether a job with a time budget has run OVERRUN_GRACE past it (reads only)."""
    budget = (job.params or {}).get("budget_s")
    if budget is None or JobStatus(job.status).terminal:
        return False
    started = job.started_at or job.created_at
    return (now or utcnow()) - started > timedelta(seconds=float(budget)) + OVERRUN_GRACE


def sweep(now: datetime | None = None) -> list[Job]:
    """Mark unfinished jobs whose worker stopped beating, or that overran, interrupted.

    The one place that writes this verdict: the Watch of every worker, scheduler and
    in-process runner calls it, and so does each scheduler pass. Returns the jobs it ended.
    """
    now = now or utcnow()
    cutoff = now - STALE_AFTER
    runner = current_app.extensions["sdm.jobs"]
    stale = db.session.scalars(
        db.select(Job).where(Job.status.in_(UNFINISHED),
                             db.func.coalesce(Job.heartbeat_at, Job.created_at) < cutoff)
    ).all()
    recovered = [job for job in stale
                 if not runner.holds(job.id) and mark_interrupted(job, cutoff)]
    budgeted = db.session.scalars(
        db.select(Job).where(Job.status == JobStatus.RUNNING,
                             db.func.coalesce(Job.heartbeat_at, Job.created_at) >= cutoff)
    ).all()
    for job in budgeted:
        if overran(job, now):
            job.cancel_requested = True  # its worker stops at its next look
            db.session.flush()
            if mark_interrupted(job):
                recovered.append(job)
    db.session.commit()
    return recovered


def mark_interrupted(job: Job, cutoff: datetime | None = None) -> bool:
    """Fail an abandoned job and let its kind tidy up; the caller commits.

    The job is claimed with a conditional update, so of two sweeps only one tidies up; with a
    cutoff, a job that beat again since (or finished) is left alone. False when not claimed.
    """
    unfinished = [Job.id == job.id, Job.status.in_(UNFINISHED)]
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
    tidy = current_app.extensions["sdm.jobs"].kinds.interrupted(job.kind)
    if tidy is not None:
        tidy(job)
    return True


def beat(app: Flask, job_ids: list[str]) -> None:
    """Write the heartbeat of unfinished jobs; a failed beat is logged, the next one retries."""
    try:
        with app.app_context():
            db.session.execute(
                db.update(Job)
                .where(Job.id.in_(job_ids), Job.status.in_(UNFINISHED))
                .values(heartbeat_at=utcnow())
            )
            db.session.commit()
    except SQLAlchemyError:
        log.exception("job heartbeat failed")


def sweep_in(app: Flask) -> None:
    """Sweep in an app context of its own; a failure is logged and the next sweep retries."""
    try:
        with app.app_context():
            sweep()
    except SQLAlchemyError as exc:  # e.g. the schema is not there yet
        log.warning("sweeping abandoned jobs failed: %s", exc.__class__.__name__)


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
                sweep_in(self._app)
                next_sweep = time.monotonic() + SWEEP_S
