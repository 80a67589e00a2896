"""The scheduler: starts due runs, sweeps abandoned jobs and retries interrupted runs once.

Any number of schedulers may run at once (`flask sdm scheduler` processes, and the one inside
each web process of the embedded default): a due run is claimed by inserting its (flow, due
time) row, which the database lets exactly one of them do.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from webapp import jobs
from webapp.extensions import db
from webapp.models import (
    DueRun,
    DueRunOutcome,
    Flow,
    Run,
    RunStatus,
    RunTrigger,
    Schedule,
)
from webapp.models.common import utcnow
from webapp.schedules import services

log = logging.getLogger(__name__)

TICK_S = 5.0  # how often a scheduler looks for due runs
OPEN = (RunStatus.QUEUED, RunStatus.RUNNING)
INTERRUPTED_PREFIX = "Interrupted"


@dataclass
class Tick:
    """What one pass of the scheduler did."""

    started: list[int] = field(default_factory=list)  # run ids
    skipped: list[int] = field(default_factory=list)  # flow ids
    retried: list[int] = field(default_factory=list)  # run ids
    tested: list[int] = field(default_factory=list)  # connection ids re-tested ahead of runs
    swept: int = 0
    events: int = 0
    deliveries: int = 0


def identity() -> str:
    """Name this scheduler in the rows it claims: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def tick(now: datetime | None = None) -> Tick:
    """Do one pass: sweep abandoned jobs, retry interrupted runs, start due runs."""
    now = now or utcnow()
    done = Tick()
    done.swept = len(jobs.sweep(now=now))
    done.retried = retry_interrupted()
    due = db.session.scalars(select(Schedule).where(Schedule.next_run_at <= now,
                                                    Schedule.paused.is_(False))).all()
    for schedule in due:
        _fire(schedule, now, done)
    _after(now, done)
    return done


def _after(now: datetime, done: Tick) -> None:
    """Re-test connections ahead of runs, tell people what happened, retry deliveries."""
    from webapp.connections import health
    from webapp.notifications import delivery, events

    try:
        done.tested = health.retest_before_runs(now)
    except jobs.JobsUnavailable as exc:
        db.session.rollback()
        log.warning("connection re-tests wait: %s", exc.detail)
    done.events = len(events.scan_runs(now))
    done.deliveries = len(delivery.retry_due(now))


def _fire(schedule: Schedule, now: datetime, done: Tick) -> None:
    """Claim and start the latest due run of a schedule once, then move it to the next."""
    # Everything missed while no scheduler ran collapses into the latest due time: one run.
    due_at = services.timing(schedule).latest_at_or_before(now) or schedule.next_run_at
    flow_id, organization_id = schedule.flow_id, schedule.organization_id
    services.reschedule(schedule, now)
    db.session.commit()
    claim = claim_due(flow_id, organization_id, due_at)
    if claim is None:
        return  # another scheduler has it
    flow = db.session.get(Flow, flow_id)
    running = db.session.scalar(select(Run).where(Run.flow_id == flow_id, Run.status.in_(OPEN))
                                .order_by(Run.id.desc()))
    if running is not None and not _ended(running):
        claim.outcome = DueRunOutcome.SKIPPED
        claim.note = (f"The run due {due_at:%Y-%m-%d %H:%M} UTC was skipped: run #{running.id} "
                      "was still going.")
        db.session.commit()
        done.skipped.append(flow_id)
        return
    _start(claim, flow, done)


def _start(claim: DueRun, flow: Flow, done: Tick) -> None:
    from webapp.runs import services as runs

    try:
        run = runs.start_run(flow, None, trigger=RunTrigger.SCHEDULED)
    except runs.RunRefused as exc:
        db.session.rollback()
        claim = db.session.merge(claim)
        claim.outcome, claim.note = DueRunOutcome.REFUSED, exc.public_message
    except jobs.JobsUnavailable as exc:
        db.session.rollback()
        claim = db.session.merge(claim)
        claim.outcome, claim.note = DueRunOutcome.UNAVAILABLE, exc.public_message
    else:
        claim.run_id = run.id
        done.started.append(run.id)
    db.session.commit()


def _ended(run: Run) -> bool:
    from webapp.runs import services as runs

    return runs.settle(run).terminal


def claim_due(flow_id: int, organization_id: int, due_at: datetime) -> DueRun | None:
    """Claim a flow's run due at a time; None when another scheduler claimed it first."""
    claim = DueRun(flow_id=flow_id, organization_id=organization_id, due_at=due_at,
                   claimed_by=identity(), outcome=DueRunOutcome.STARTED)
    db.session.add(claim)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return claim


def retry_interrupted() -> list[int]:
    """Retry, once, each scheduled run that failed because its worker stopped."""
    from webapp.runs import services as runs

    candidates = db.session.scalars(
        select(Run).where(Run.trigger == RunTrigger.SCHEDULED, Run.status == RunStatus.FAILED,
                          Run.attempts == 1, Run.error.like(f"{INTERRUPTED_PREFIX}%"))
    ).all()
    retried = []
    for run in candidates:
        # Claim the retry with the attempt counter so two schedulers never both retry it.
        claimed = db.session.execute(
            db.update(Run).where(Run.id == run.id, Run.attempts == 1)
            .values(attempts=2)).rowcount
        db.session.commit()
        if not claimed:
            continue
        db.session.refresh(run)
        run.attempts = 1  # retry_failed counts this attempt itself
        try:
            runs.retry_failed(run, None)
        except runs.RunRefused as exc:
            db.session.rollback()
            log.warning("could not retry interrupted run %s: %s", run.id, exc)
            continue
        except jobs.JobsUnavailable:
            db.session.rollback()  # give the claim back: a later pass retries it
            db.session.execute(db.update(Run).where(Run.id == run.id).values(attempts=1))
            db.session.commit()
            break
        retried.append(run.id)
    return retried


def serve(app: Flask, stop: threading.Event, interval: float = TICK_S) -> None:
    """Tick until stopped; a failing pass is logged and the next one tries again.

    Abandoned jobs are swept on a thread of their own as well, every jobs.SWEEP_S, so a slow
    pass (re-tests, notifications) never delays marking them interrupted.
    """
    watch = jobs.Watch(app).start()
    try:
        _tick_until(app, stop, interval)
    finally:
        watch.stop()


def _tick_until(app: Flask, stop: threading.Event, interval: float) -> None:
    while True:
        try:
            with app.app_context():
                tick()
        except (SQLAlchemyError, jobs.JobsUnavailable) as exc:
            log.warning("scheduler pass failed: %s", exc.__class__.__name__)
        except Exception:
            log.exception("scheduler pass failed")
        if stop.wait(interval):
            return


def start_embedded(app: Flask) -> threading.Event:
    """Run a scheduler on a daemon thread of this process; set the event to stop it."""
    stop = threading.Event()

    def later() -> None:
        # The first pass waits one interval, so a process that only runs a command and
        # exits (or upgrades the schema first) never meets a half-built database.
        if not stop.wait(TICK_S):
            serve(app, stop)

    threading.Thread(target=later, daemon=True, name="sdm-scheduler").start()
    return stop
