"""Test Connection: start or join a test, run it as a job, keep its result, recover lost tests.

A test's live state has one home, its job: the job reports its checklist into its progress
as each step completes and keeps the final one as its result. A saved connection keeps only
the verdict: its status moves to Testing as soon as someone presses Test (a conditional
UPDATE, so two presses share one test), then to Success or Error with a brief summary, who
ran it and when, and the id of the job that holds the checklist. A test of unsaved form
values has its job only; its secret travels encrypted in the job's parameters and is removed
from them when the test ends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import update

from webapp import audit, crypto, jobs
from webapp.connections import recovery, services, verdicts
from webapp.connections.views import (
    FORM_KEY,
    INTERRUPTED_TITLE,
    TestView,
    connection_view,
    job_view,
)
from webapp.crypto import SecretUnreadable
from webapp.extensions import db
from webapp.models import Connection, Job, JobStatus, Status, TestSummary
from webapp.models.common import utcnow
from webapp.plugin_api import (
    ERROR,
    Checklist,
    CheckStep,
    ConnectionDetails,
    ErrorCategory,
    ErrorInfo,
    SourceConfig,
    SourceError,
    SourceUnavailable,
)
from webapp.plugins import registry

log = logging.getLogger(__name__)

KIND = verdicts.KIND
SECRET_PARAM = "secret_encrypted"

__all__ = [
    "KIND",
    "TestView",
    "cancel_test",
    "cancel_values_test",
    "connection_view",
    "job_view",
    "start_test",
    "start_values_test",
]


def _budget() -> float:
    return float(current_app.config["TEST_BUDGET_S"])


def _pending(provider: str | None) -> dict[str, Any]:
    """Return the checklist of a test that has not started: every step pending."""
    steps = tuple(CheckStep(step_id, label)
                  for step_id, label in registry().connection_source(provider).check_steps)
    return Checklist(steps=steps, elapsed_ms=0).to_json()


def _verdict_of(connection: Connection) -> dict[str, Any]:
    """Return the connection's standing verdict: what a cancelled test puts back."""
    summary = {k: v for k, v in (connection.test_summary or {}).items() if k != "cancelled"}
    return {"status": str(connection.status), "test_summary": summary or None,
            "last_tested_at": connection.last_tested_at.isoformat()
            if connection.last_tested_at else None,
            "last_tested_by_id": connection.last_tested_by_id,
            "test_job_id": connection.test_job_id}


def _iso(moment) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


# --- Starting ---------------------------------------------------------------------------

def start_test(connection: Connection, *, user_id: int | None,
               started_by: str | None = None, scheduled: bool = False) -> Job:
    """Start a test of a saved connection, or join the one already running.

    `scheduled` marks the scheduler's re-test ahead of a run, in the health history.
    """
    recovery.settle(connection)
    runner = jobs.runner()
    # The verdict the test replaces travels with its job, for a cancel to put back.
    job = runner.create(KIND, organization_id=connection.organization_id, subject=connection,
                        created_by_id=user_id, budget_s=_budget(), started_by=started_by,
                        previous=_verdict_of(connection), scheduled=scheduled)
    job.progress = _pending(connection.provider)
    claimed = db.session.execute(
        update(Connection)
        .where(Connection.id == connection.id, Connection.status != Status.TESTING)
        .values(status=Status.TESTING, test_job_id=job.id)
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
    values = _restored(dict((job.params or {}).get("previous") or {}), cancelled=None)
    db.session.rollback()
    db.session.execute(
        update(Connection)
        .where(Connection.id == connection_id, Connection.test_job_id == job.id)
        .values(**values)
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
    recovery.settle(connection)
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
    recovery.settle_job(job)
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
    """Run the source's check, its checklist live in the job's progress; keep the verdict."""
    budget = float(ctx.params.get("budget_s") or _budget())
    connection_id = int(ctx.subject_id) if ctx.subject_id else None
    checklist: Checklist | None = None
    try:
        config = SourceConfig(connection=_details(ctx, connection_id, budget),
                              organization_id=ctx.organization_id, budget_s=budget)
        source = registry().connection_source(_provider(ctx, connection_id))
        checklist = source.check(config, lambda snapshot: ctx.report(snapshot.to_json()), ctx)
    except SourceError as error:
        checklist = _failure(ErrorInfo.from_json(error.to_dict()))
    except SourceUnavailable as error:
        checklist = _failure(ErrorInfo("unavailable", error.title, error.message,
                                       advice=error.advice))
    except SecretUnreadable as error:
        checklist = _failure(ErrorInfo("secret_unreadable", "Secret unreadable", str(error),
                                       advice=("Enter the Client Secret again",)))
    except Exception:
        log.exception("connection test %s failed", ctx.job_id)
        checklist = _failure(ErrorInfo("internal", "Test failed",
                                       "The test stopped on an unexpected error; it has been "
                                       "logged. Try again."))
    finally:
        db.session.rollback()
        _finish(ctx, connection_id, checklist or _failure(_interrupted_error()))
    return checklist.to_json()


def _provider(ctx: jobs.JobContext, connection_id: int | None) -> str | None:
    """Return the provider template of the tested connection, or of the tested values."""
    if connection_id is None:
        return ctx.params["values"].get("provider")
    connection = db.session.get(Connection, connection_id)
    return connection.provider if connection is not None else None


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


def _failure(error: ErrorInfo) -> Checklist:
    return Checklist(ERROR, error=error)


def _interrupted_error() -> ErrorInfo:
    return ErrorInfo("interrupted", INTERRUPTED_TITLE,
                     "The test was interrupted: the worker running it stopped (a restart or "
                     "a crash) before it finished.", advice=("Run the test again",))


def _finish(ctx: jobs.JobContext, connection_id: int | None, checklist: Checklist) -> None:
    """Keep the verdict (on the connection, if this test still owns it) and audit the test."""
    job = db.session.get(Job, ctx.job_id)
    if SECRET_PARAM in (job.params or {}):
        job.params = {k: v for k, v in job.params.items() if k != SECRET_PARAM}
    state = Status.SUCCESS if checklist.ok else Status.ERROR
    error = checklist.error
    cancelled = error is not None and error.category == ErrorCategory.CANCELLED
    if connection_id is None:
        if not cancelled:  # a cancel is audited by the canceller
            host = urlsplit(ctx.params.get("values", {}).get("base_url", "")).hostname or "?"
            audit.record("connection.tested",
                         f"Tested unsaved connection values ({host}): {state.label}",
                         organization_id=ctx.organization_id, actor_id=ctx.created_by_id,
                         outcome=state.value, host=host, saved=False,
                         error=error.title if error else None,
                         step=error.step if error else None)
        db.session.commit()
        return
    _keep_verdict(ctx, job.params or {}, connection_id, checklist, cancelled)


def _keep_verdict(ctx: jobs.JobContext, params: dict[str, Any], connection_id: int,
                  checklist: Checklist, cancelled: bool) -> None:
    """Write a saved connection's verdict, if this test still owns it; add it to the history."""
    connection = db.session.get(Connection, connection_id)
    state = Status.SUCCESS if checklist.ok else Status.ERROR
    if cancelled:
        values = _restored(params.get("previous") or {},
                           cancelled={"by": params.get("cancelled_by"), "at": _iso(utcnow())})
    else:
        values = {"status": state, "last_tested_at": utcnow(),
                  "last_tested_by_id": ctx.created_by_id,
                  "test_summary": TestSummary.of(checklist).to_json()}
    owned = db.session.execute(
        update(Connection)
        .where(Connection.id == connection_id, Connection.test_job_id == ctx.job_id,
               Connection.status == Status.TESTING)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    kept = bool(owned) and connection is not None and not cancelled
    if kept:
        error = checklist.error
        audit.record("connection.tested",
                     f"Tested connection “{connection.name}”: {state.label}",
                     organization_id=connection.organization_id, target=connection,
                     actor_id=ctx.created_by_id, outcome=state.value, saved=True,
                     error=error.title if error else None, step=error.step if error else None)
    db.session.commit()
    if kept:
        from webapp.connections import health

        health.record(connection, checklist, scheduled=bool(params.get("scheduled")),
                      before=(params.get("previous") or {}).get("status"))


def _restored(previous: dict[str, Any], *,
              cancelled: dict[str, Any] | None) -> dict[str, Any]:
    """Return the connection columns of the verdict a cancelled test leaves standing."""
    status = previous.get("status")
    if status not in (Status.CONFIGURED, Status.SUCCESS, Status.ERROR):
        status = Status.CONFIGURED
    tested_at = previous.get("last_tested_at")
    summary = dict(previous.get("test_summary") or {})
    if cancelled is not None:
        summary["cancelled"] = cancelled
    return {"status": status,
            "last_tested_at": datetime.fromisoformat(tested_at) if tested_at else None,
            "last_tested_by_id": previous.get("last_tested_by_id"),
            "test_summary": summary or None, "test_job_id": previous.get("test_job_id")}
