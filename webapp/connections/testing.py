"""Test Connection: start or join a test, run it as a job, keep its result, recover lost tests.

A saved connection's test lives on the Connection row: the status moves to Testing as soon as
someone presses Test (a conditional UPDATE, so two presses share one test), the job writes its
checklist onto the row as each step completes, and the verdict (Success or Error) stays there
with who ran it and when. A test of unsaved form values lives on its job row only; its secret
travels encrypted in the job's parameters and is removed from them when the test ends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from webapp import audit, crypto, jobs
from webapp.connections import services, verdicts
from webapp.connections.checklists import FORM_KEY, TestView, connection_view, job_view
from webapp.crypto import SecretUnreadable
from webapp.extensions import db
from webapp.models import Connection, Job, JobStatus, Status
from webapp.models.common import utcnow
from webapp.plugin_api import (
    Checklist,
    CheckStep,
    ConnectionDetails,
    ErrorCategory,
    SourceConfig,
    SourceError,
    SourceUnavailable,
)
from webapp.plugins import registry

log = logging.getLogger(__name__)

KIND = "connection.test"
SECRET_PARAM = "secret_encrypted"
INTERRUPTED_TITLE = "Test interrupted"

__all__ = [
    "KIND",
    "TestView",
    "cancel_test",
    "cancel_values_test",
    "connection_view",
    "job_view",
    "refresh",
    "refresh_job",
    "settle",
    "settle_job",
    "start_test",
    "start_values_test",
]


def _budget() -> float:
    return float(current_app.config["TEST_BUDGET_S"])


def _pending(started_by: str | None) -> dict[str, Any]:
    steps = tuple(CheckStep(step_id, label)
                  for step_id, label in registry().connection_source().check_steps)
    return {**Checklist(steps=steps, elapsed_ms=0).to_json(), "started_at": _iso(utcnow()),
            "started_by": started_by}


def _verdict_of(connection: Connection) -> dict[str, Any]:
    """Return the connection's standing verdict: what a cancelled test puts back."""
    last = {k: v for k, v in (connection.last_test or {}).items() if k != "cancelled"}
    return {"status": str(connection.status), "last_test": last or None,
            "last_tested_at": connection.last_tested_at.isoformat()
            if connection.last_tested_at else None,
            "last_tested_by_id": connection.last_tested_by_id}


def _iso(moment) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


# --- Starting ---------------------------------------------------------------------------

def start_test(connection: Connection, *, user_id: int | None,
               started_by: str | None = None, scheduled: bool = False) -> Job:
    """Start a test of a saved connection, or join the one already running.

    `scheduled` marks the scheduler's re-test ahead of a run, in the health history.
    """
    settle(connection)
    runner = jobs.runner()
    # The verdict the test replaces travels with its job, for a cancel to put back.
    job = runner.create(KIND, organization_id=connection.organization_id, subject=connection,
                        created_by_id=user_id, budget_s=_budget(),
                        previous=_verdict_of(connection), scheduled=scheduled)
    claimed = db.session.execute(
        update(Connection)
        .where(Connection.id == connection.id, Connection.status != Status.TESTING)
        .values(status=Status.TESTING, test_job_id=job.id, last_test=_pending(started_by))
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        # Someone else's press won: share their test.
        db.session.delete(job)
        db.session.commit()
        db.session.refresh(connection)
        return db.session.get(Job, connection.test_job_id)
    db.session.commit()
    try:
        runner.dispatch(job.id)
    except jobs.JobsUnavailable:
        _unclaim(connection.id, job)
        raise
    db.session.expire_all()
    return db.session.get(Job, job.id)


def _unclaim(connection_id: int, job: Job) -> None:
    """Put back the verdict a test that could not start replaced, and forget its job."""
    previous = dict((job.params or {}).get("previous") or {})
    values = _restored(previous, cancelled={})
    values["last_test"] = previous.get("last_test")
    db.session.rollback()
    db.session.execute(
        update(Connection)
        .where(Connection.id == connection_id, Connection.test_job_id == job.id)
        .values(test_job_id=None, **values)
        .execution_options(synchronize_session=False))
    jobs.Runner.discard(job)


def start_values_test(values: Mapping[str, str], *, secret: str, organization_id: int,
                      user_id: int | None, editing: Connection | None = None,
                      region: str = FORM_KEY) -> Job:
    """Start a test of unsaved form values; the secret travels encrypted.

    A blank `secret` while `editing` a saved connection tests with its stored secret
    (decrypted in the job, audited); a blank secret otherwise is the template's demo secret.
    """
    params: dict[str, Any] = {"values": {k: v for k, v in values.items() if k != "name"},
                              "budget_s": _budget(), "region": region,
                              "editing": editing.id if editing is not None else None}
    if secret:
        params[SECRET_PARAM] = crypto.encrypt(secret)
    elif editing is not None:
        params["stored_secret_of"] = editing.id
    else:
        secret = services.template_or_default(values.get("provider")).demo_secret
        params[SECRET_PARAM] = crypto.encrypt(secret)
    # Saving these very values right after keeps this test's verdict (connections.verdicts).
    params[verdicts.DIGEST_PARAM] = verdicts.digest(
        values, secret or verdicts.stored_marker(editing))
    return jobs.runner().submit(KIND, organization_id=organization_id, created_by_id=user_id,
                                **params)


def cancel_test(connection: Connection, *, user_id: int | None, name: str | None) -> bool:
    """Ask the running test of a saved connection to stop; False when none is running.

    The test stops within a moment and puts back the verdict the connection had before it.
    """
    settle(connection)
    if connection.status != Status.TESTING or not connection.test_job_id:
        return False
    job = db.session.get(Job, connection.test_job_id)
    if job is None or JobStatus(job.status).terminal:
        return False
    # Who cancelled, for the note the connection keeps (a saved connection's test carries
    # no secret in its parameters, so nothing the job removes is written back here).
    job.params = {**(job.params or {}), "cancelled_by": name}
    jobs.runner().cancel(job.id)
    audit.record("connection.test_cancelled", f"Cancelled the test of connection "
                 f"“{connection.name}”", organization_id=connection.organization_id,
                 target=connection, actor_id=user_id)
    db.session.commit()
    return True


def cancel_values_test(job: Job, *, user_id: int | None) -> bool:
    """Ask a running test of unsaved form values to stop; False when it has ended."""
    settle_job(job)
    if JobStatus(job.status).terminal:
        return False
    jobs.runner().cancel(job.id)
    audit.record("connection.test_cancelled", "Cancelled a test of unsaved connection values",
                 organization_id=job.organization_id, actor_id=user_id)
    db.session.commit()
    return True


# --- Running ----------------------------------------------------------------------------

@jobs.handler(KIND)
def run_connection_test(ctx: jobs.JobContext) -> dict[str, Any]:
    """Run the checklist, writing each step onto the job (and the connection, when saved)."""
    budget = float(ctx.params.get("budget_s") or _budget())
    connection_id = int(ctx.subject_id) if ctx.subject_id else None
    result: dict[str, Any] | None = None
    started = _started_fields(connection_id)
    try:
        details = _details(ctx, connection_id, budget)

        def report(checklist: Checklist) -> None:
            snapshot = checklist.to_json()
            if connection_id is not None:
                _write_progress(connection_id, ctx.job_id, {**snapshot, **started})
            ctx.report(snapshot)

        config = SourceConfig(connection=details, organization_id=ctx.organization_id,
                              budget_s=budget)
        result = registry().connection_source().check(config, report, ctx).to_json()
    except SourceError as error:
        result = _failure(error.to_dict())
    except SourceUnavailable as error:
        result = _failure({"category": "unavailable", "title": error.title,
                           "message": error.message, "advice": list(error.advice)})
    except SecretUnreadable as error:
        result = _failure({"category": "secret_unreadable", "title": "Secret unreadable",
                           "message": str(error), "advice": ["Enter the Client Secret again"]})
    except Exception:
        log.exception("connection test %s failed", ctx.job_id)
        result = _failure({"category": "internal", "title": "Test failed",
                           "message": "The test stopped on an unexpected error; it has been "
                                      "logged. Try again.", "advice": []})
    finally:
        db.session.rollback()
        _finish(ctx, connection_id, {**(result or _failure(_interrupted_error())), **started})
    return result


def _details(ctx: jobs.JobContext, connection_id: int | None,
             budget: float) -> ConnectionDetails:
    if connection_id is not None:
        connection = db.session.get(Connection, connection_id)
        return services.connection_details(connection, reason="connection test",
                                           time_budget=budget, actor_id=ctx.created_by_id)
    values = dict(ctx.params["values"])
    if SECRET_PARAM in ctx.params:
        secret = crypto.decrypt(ctx.params[SECRET_PARAM])
    else:
        stored = db.session.get(Connection, int(ctx.params["stored_secret_of"]))
        if stored is None or stored.organization_id != ctx.organization_id:
            raise SourceError(ErrorCategory.AUTHENTICATION,
                              "The connection whose stored secret this test uses is gone.")
        secret = services.stored_secret(stored, reason="test of edited, unsaved values",
                                        actor_id=ctx.created_by_id)
    return services.details_from_values(values, secret=secret, time_budget=budget)


def _write_progress(connection_id: int, job_id: str, snapshot: dict[str, Any]) -> None:
    """Copy a progress snapshot onto the connection, if this test still owns it."""
    db.session.execute(
        update(Connection)
        .where(Connection.id == connection_id, Connection.test_job_id == job_id,
               Connection.status == Status.TESTING)
        .values(last_test=snapshot)
        .execution_options(synchronize_session=False)
    )


def _started_fields(connection_id: int | None) -> dict[str, Any]:
    """Return who started a saved connection's test and when, as start_test wrote it."""
    row = db.session.get(Connection, connection_id) if connection_id is not None else None
    last = (row.last_test if row is not None else None) or {}
    return {"started_at": last.get("started_at"), "started_by": last.get("started_by")}


def _failure(error: dict[str, Any]) -> dict[str, Any]:
    return {"state": "error", "steps": [], "learned": {}, "elapsed_ms": None, "error": error}


def _interrupted_error() -> dict[str, Any]:
    return {"category": "interrupted", "title": INTERRUPTED_TITLE,
            "message": "The test was interrupted: the worker running it stopped (a restart "
                       "or a crash) before it finished.",
            "advice": ["Run the test again"], "step": None}


def _finish(ctx: jobs.JobContext, connection_id: int | None, result: dict[str, Any]) -> None:
    """Store the verdict on the connection (if this test still owns it) and audit the test."""
    job = db.session.get(Job, ctx.job_id)
    if SECRET_PARAM in (job.params or {}):
        job.params = {k: v for k, v in job.params.items() if k != SECRET_PARAM}
    state = Status.SUCCESS if result.get("state") == "success" else Status.ERROR
    error = result.get("error") or {}
    cancelled = error.get("category") == ErrorCategory.CANCELLED  # audited by the canceller
    if connection_id is None:
        if cancelled:
            db.session.commit()
            return
        host = urlsplit(ctx.params.get("values", {}).get("base_url", "")).hostname or "?"
        audit.record("connection.tested",
                     f"Tested unsaved connection values ({host}): {state.label}",
                     organization_id=ctx.organization_id, actor_id=ctx.created_by_id,
                     outcome=state.value, host=host, saved=False,
                     error=error.get("title"), step=error.get("step"))
        db.session.commit()
        return
    connection = db.session.get(Connection, connection_id)
    params = job.params or {}
    if cancelled:
        values = _restored(params.get("previous") or {},
                           cancelled={"by": params.get("cancelled_by"), "at": _iso(utcnow())})
    else:
        values = {"status": state, "last_tested_at": utcnow(),
                  "last_tested_by_id": ctx.created_by_id,
                  "last_test": {**result, "finished_at": _iso(utcnow())}}
    owned = db.session.execute(
        update(Connection)
        .where(Connection.id == connection_id, Connection.test_job_id == ctx.job_id,
               Connection.status == Status.TESTING)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if owned and connection is not None and not cancelled:
        audit.record("connection.tested",
                     f"Tested connection “{connection.name}”: {state.label}",
                     organization_id=connection.organization_id, target=connection,
                     actor_id=ctx.created_by_id, outcome=state.value, saved=True,
                     error=error.get("title"), step=error.get("step"))
    db.session.commit()
    if owned and connection is not None and not cancelled:
        from webapp.connections import health

        health.record(connection, ok=state == Status.SUCCESS, result=result,
                      scheduled=bool(params.get("scheduled")),
                      before=(params.get("previous") or {}).get("status"))


def _restored(previous: dict[str, Any], *, cancelled: dict[str, Any]) -> dict[str, Any]:
    """Return the connection columns of the verdict a cancelled test leaves standing."""
    status = previous.get("status")
    if status not in (Status.CONFIGURED, Status.SUCCESS, Status.ERROR):
        status = Status.CONFIGURED
    tested_at = previous.get("last_tested_at")
    return {"status": status,
            "last_tested_at": datetime.fromisoformat(tested_at) if tested_at else None,
            "last_tested_by_id": previous.get("last_tested_by_id"),
            "last_test": {**(previous.get("last_test") or {}), "cancelled": cancelled}}


# --- Recovering -------------------------------------------------------------------------
# A test is lost when its job is gone or ended without a verdict, its worker stopped beating,
# or it overran its budget. A poll only reads: `refresh` shows a lost test as interrupted on
# the request's own objects, with nothing for the session to write; the sweep (or the next
# Test or Cancel, through `settle`) writes the verdict.

def _overran(job: Job) -> bool:
    return jobs.overran(job)  # the sweep ends such a test too


def _test_job(connection: Connection) -> Job | None:
    return db.session.get(Job, connection.test_job_id) if connection.test_job_id else None


def _lost(connection: Connection, job: Job | None) -> bool:
    if connection.status != Status.TESTING:
        return False
    if job is None or JobStatus(job.status).terminal or jobs.is_stale(job):
        return True
    return _overran(job)


def refresh(connection: Connection) -> bool:
    """Show a lost test as interrupted on this request's connection, writing nothing."""
    job = _test_job(connection)
    if not _lost(connection, job):
        return False
    for key, value in _interrupted_fields(connection, job).items():
        set_committed_value(connection, key, value)
    return True


def settle(connection: Connection) -> bool:
    """End a lost test for good, writing its interrupted verdict; True if it changed."""
    job = _test_job(connection)
    if not _lost(connection, job):
        return False
    if job is not None and not JobStatus(job.status).terminal:
        if jobs.is_stale(job):
            jobs.mark_interrupted(job)  # calls _tidy_interrupted for the connection
            db.session.commit()
            return True
        jobs.runner().cancel(job.id)  # overran: tell its worker to stop
    _mark_interrupted(connection, job)
    db.session.commit()
    return True


def _job_lost(job: Job) -> bool:
    return not JobStatus(job.status).terminal and (jobs.is_stale(job) or _overran(job))


def refresh_job(job: Job) -> bool:
    """Show a lost job-only test (unsaved values) as interrupted, writing nothing."""
    if not _job_lost(job):
        return False
    for key, value in {"status": JobStatus.FAILED, "error": jobs.INTERRUPTED,
                       "finished_at": utcnow()}.items():
        set_committed_value(job, key, value)
    return True


def settle_job(job: Job) -> bool:
    """End a lost job-only test for good; True if it changed."""
    if not _job_lost(job):
        return False
    jobs.mark_interrupted(job)
    db.session.commit()
    return True


@jobs.on_interrupted(KIND)
def _tidy_interrupted(job: Job) -> None:
    """Mark the connection whose test was abandoned as Error, test interrupted."""
    if not job.subject_id:
        return
    connection = db.session.get(Connection, int(job.subject_id))
    if (connection is not None and connection.test_job_id == job.id
            and connection.status == Status.TESTING):
        _mark_interrupted(connection, job)


def _interrupted_fields(connection: Connection, job: Job | None) -> dict[str, Any]:
    """Return the connection columns of an interrupted test's verdict."""
    last = dict(connection.last_test or {})
    steps = []
    for step in last.get("steps") or []:
        if step.get("state") in ("pending", "running"):
            step = {**step, "state": "skipped", "summary": "Not finished: test interrupted"}
        steps.append(step)
    return {"status": Status.ERROR, "last_tested_at": utcnow(),
            "last_tested_by_id": job.created_by_id if job is not None else None,
            "last_test": {**last, "state": "error", "steps": steps,
                          "error": _interrupted_error(), "finished_at": _iso(utcnow())}}


def _mark_interrupted(connection: Connection, job: Job | None) -> None:
    for key, value in _interrupted_fields(connection, job).items():
        setattr(connection, key, value)
    audit.record("connection.tested", f"Test of connection “{connection.name}” interrupted",
                 organization_id=connection.organization_id, target=connection,
                 actor_id=job.created_by_id if job is not None else None,
                 outcome="interrupted", saved=True)
