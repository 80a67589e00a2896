"""Pre-flight of a saved connection for a flow's source, run as a job and shown live.

    job = start_preflight(connection, entities=["users", "enrollments"], user_id=current_user.id)
    preflight_result(job)  # {"state", "ok", "errors", "warnings", "totals", "steps"}

The fragment ``connections/_preflight_status.html`` (route ``connections.preflight_status``)
shows the checklist and polls until the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app
from sqlalchemy import select

from oneroster.model import ENTITIES, Category, OneRosterError
from oneroster.preflight import run_preflight
from webapp import jobs
from webapp.connections import services
from webapp.extensions import db
from webapp.models import Connection, Job, JobStatus

KIND = "connection.preflight"


def _chosen(entities: Iterable[str] | None) -> list[str]:
    wanted = set(entities or ENTITIES)
    return [entity for entity in ENTITIES if entity in wanted] or list(ENTITIES)


def start_preflight(connection: Connection, *, entities: Iterable[str] | None = None,
                    user_id: int | None = None) -> Job:
    """Start a pre-flight of the chosen collections, or join the same one already running."""
    chosen = _chosen(entities)
    running = db.session.scalars(
        select(Job).where(Job.kind == KIND, Job.subject_id == str(connection.id),
                          Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
    ).all()
    for job in running:
        if jobs.is_stale(job):
            jobs.mark_interrupted(job)
            db.session.commit()
        elif (job.params or {}).get("entities") == chosen:
            return job
    return jobs.runner().submit(KIND, organization_id=connection.organization_id,
                                subject=connection, created_by_id=user_id, entities=chosen,
                                budget_s=float(current_app.config["TEST_BUDGET_S"]))


def preflight_result(job: Job) -> dict[str, Any]:
    """Return where a pre-flight stands: state, ok, errors, warnings, totals and steps."""
    status = JobStatus(job.status)
    if not status.terminal:
        progress = job.progress or {}
        return {"state": "testing", "ok": False, "errors": [], "warnings": [],
                "totals": {}, "steps": progress.get("steps") or []}
    result = job.result or {}
    if status != JobStatus.SUCCEEDED or not result:
        return {"state": "error", "ok": False,
                "errors": [job.error or "The pre-flight check stopped before it finished."],
                "warnings": [], "totals": {}, "steps": (job.progress or {}).get("steps") or []}
    return {"state": result["state"], "ok": result["ok"], "errors": result["errors"],
            "warnings": result["warnings"], "totals": result["totals"],
            "steps": result["steps"]}


@jobs.handler(KIND)
def run_connection_preflight(ctx: jobs.JobContext) -> dict[str, Any]:
    """Run the pre-flight checklist for a saved connection, reporting each step."""
    connection = db.session.get(Connection, int(ctx.subject_id)) if ctx.subject_id else None
    if connection is None or connection.organization_id != ctx.organization_id:
        raise OneRosterError(Category.NOT_FOUND, "The connection was deleted.")
    budget = float(ctx.params.get("budget_s") or current_app.config["TEST_BUDGET_S"])
    settings = services.client_settings(connection, reason="pre-flight check",
                                        time_budget=budget, actor_id=ctx.created_by_id)
    return run_preflight(settings, entities=_chosen(ctx.params.get("entities")), budget=budget,
                         report=ctx.report)
