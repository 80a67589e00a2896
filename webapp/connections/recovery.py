"""Lost connection tests: shown as interrupted by a poll, ended for good by the sweep.

A test is lost when its job is gone or ended without a verdict, its worker stopped beating,
or it overran its budget. A poll only reads: `refresh` shows a lost test as interrupted on
the request's own objects, with nothing for the session to write; the sweep (or the next
Test or Cancel, through `settle`) writes the verdict.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm.attributes import set_committed_value

from webapp import audit, jobs
from webapp.connections.verdicts import KIND
from webapp.connections.views import INTERRUPTED_TITLE
from webapp.extensions import db
from webapp.models import Connection, Job, JobStatus, Status, TestSummary
from webapp.models.common import utcnow


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
    progress = (job.progress if job is not None else None) or {}
    summary = TestSummary(INTERRUPTED_TITLE, elapsed_ms=progress.get("elapsed_ms"))
    return {"status": Status.ERROR, "last_tested_at": utcnow(),
            "last_tested_by_id": job.created_by_id if job is not None else None,
            "test_summary": summary.to_json()}


def _mark_interrupted(connection: Connection, job: Job | None) -> None:
    for key, value in _interrupted_fields(connection, job).items():
        setattr(connection, key, value)
    audit.record("connection.tested", f"Test of connection “{connection.name}” interrupted",
                 organization_id=connection.organization_id, target=connection,
                 actor_id=job.created_by_id if job is not None else None,
                 outcome="interrupted", saved=True)
