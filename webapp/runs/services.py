"""The work behind the run pages' actions: starting, cancelling, retrying and deleting runs,
and settling those whose worker stopped. Reading runs back is webapp/runs/views.py.

Other areas call ``start_run(flow, user)`` (the flow page's "Run now") and
``preview(source_nodes)`` (the wizard's Preview step, in webapp/runs/preview.py).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from webapp import audit, jobs, tenancy
from webapp.extensions import db
from webapp.models import (
    CollectionState,
    Flow,
    Job,
    JobStatus,
    Run,
    RunCollection,
    RunStatus,
    RunTrigger,
    User,
)
from webapp.models.common import utcnow
from webapp.plugin_api import ENTITY_LABELS
from webapp.plugins import registry
from webapp.runs import output
from webapp.runs.engine import KIND
from webapp.runs.outcome import mark_failed
from webapp.runs.preview import Preview, preview

__all__ = ["Preview", "RunRefused", "cancel_run", "preview", "retry_failed", "start_run"]

OPEN = (RunStatus.QUEUED, RunStatus.RUNNING)


class RunRefused(Exception):
    """A run that cannot start, with a reason for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.public_message = message


# Starting, cancelling, retrying.

def start_run(flow: Flow, user: User | None,
              trigger: RunTrigger = RunTrigger.MANUAL) -> Run:
    """Start a run of a flow as a background job; return it (the open one if already running)."""
    running = db.session.scalar(select(Run).where(Run.flow_id == flow.id, Run.status.in_(OPEN))
                                .order_by(Run.id.desc()))
    if running is not None and not settle(running).terminal:
        return running
    jobs.runner().check()  # refuse before anything is written when no job can start
    graph = copy.deepcopy(flow.graph or {})
    sources = _sources(flow, graph)
    if not sources:
        raise RunRefused("This flow has no source to read from. Edit the flow and add one.")
    run = Run(organization_id=flow.organization_id, flow_id=flow.id, flow_name=flow.name,
              graph=graph, sources=sources, status=RunStatus.QUEUED, trigger=trigger,
              started_by_id=user.id if user else None)
    run.collections = [RunCollection(source_node=s["node"], entity=e)
                       for s in sources for e in s["entities"]]
    db.session.add(run)
    db.session.flush()
    kind = "scheduled run" if trigger == RunTrigger.SCHEDULED else "run"
    audit.record("run.started", f"Started a {kind} of flow {flow.name}",
                 organization_id=flow.organization_id, target=run,
                 actor_id=user.id if user else None, flow_id=flow.id)
    db.session.commit()
    try:
        _dispatch(run, user)
    except jobs.JobsUnavailable:
        # Nothing half-started: a run that could not be queued is not kept.
        db.session.execute(db.delete(Run).where(Run.id == run.id))
        db.session.commit()
        raise
    return run


def retry_failed(run: Run, user: User | None) -> Run:
    """Refetch the collections of a run that did not complete, into the same run."""
    settle(run)
    if not RunStatus(run.status).terminal:
        raise RunRefused("This run is still going; wait for it to end before retrying.")
    if not retryable(run):
        raise RunRefused("Every collection of this run completed; there is nothing to retry.")
    jobs.runner().check()
    before = (run.status, run.attempts, run.error, run.job_id)
    run.status = RunStatus.QUEUED
    run.attempts = (run.attempts or 1) + 1
    run.error = None
    audit.record("run.retried", f"Retried the failed collections of run {run.id}",
                 organization_id=run.organization_id, target=run,
                 actor_id=user.id if user else None,
                 collections=[c.key for c in run.collections
                              if c.state != CollectionState.COMPLETED])
    db.session.commit()
    try:
        _dispatch(run, user, retry=True)
    except jobs.JobsUnavailable:
        run.status, run.attempts, run.error, run.job_id = before
        db.session.commit()
        raise
    return run


def _dispatch(run: Run, user: User | None, *, retry: bool = False) -> None:
    runner = jobs.runner()
    params = {"run_id": run.id, "retry": True} if retry else {"run_id": run.id}
    job = runner.create(KIND, organization_id=run.organization_id, subject=run,
                        created_by_id=user.id if user else None, **params)
    run.job_id = job.id
    db.session.commit()
    try:
        runner.dispatch(job.id)
    except jobs.JobsUnavailable:
        jobs.Runner.discard(job)
        raise
    db.session.expire_all()


def cancel_run(run: Run, user: User | None) -> Run:
    """Ask a running run to stop; records read so far are kept."""
    if settle(run).terminal or run.job_id is None:
        return run
    audit.record("run.cancelled", f"Cancelled run {run.id} of flow {run.flow_name}",
                 organization_id=run.organization_id, target=run,
                 actor_id=user.id if user else None)
    db.session.commit()
    jobs.runner().cancel(run.job_id)
    return run


def can_delete(run: Run, user: User | None) -> bool:
    """Admins, the flow's creator and the person who started the run may delete it."""
    if tenancy.is_admin():
        return True
    return user is not None and user.id in (run.started_by_id, run.flow.created_by_id)


def delete_run(run: Run, user: User | None) -> None:
    """Delete a run that has ended: its records, its collections and its output file.

    The flow and its other runs stay. A delta run of the flow then reads the changes since
    the last successful run that remains.
    """
    settle(run)
    if not settled(run):
        raise RunRefused("This run is still going: cancel it, or wait for it to end, "
                         "before deleting it.")
    audit.record("run.deleted", f"Deleted run {run.id} of flow {run.flow_name} "
                 f"({run.total:,} records)", organization_id=run.organization_id,
                 target=run, actor_id=user.id if user else None)
    db.session.delete(run)  # the database deletes its records and collections with it
    db.session.commit()


def write_output_again(run: Run, user: User | None) -> Run:
    """Write a completed run's output again (after a failure, or a lost file)."""
    settle(run)
    if not RunStatus(run.status).succeeded or output.output_node(run) is None:
        raise RunRefused("Only a completed run has an output to write.")
    if output.pending(run):
        return run
    output.prepare(run, dict((run.output or {}).get("modes") or {}))
    db.session.commit()
    output.start(run, user.id if user else None)
    return run


def settled(run: Run) -> bool:
    """Tell whether nothing about a run is still changing (its output included)."""
    return RunStatus(run.status).terminal and not output.pending(run)


def retryable(run: Run) -> bool:
    """Tell whether a finished run has collections to refetch."""
    return (RunStatus(run.status) in (RunStatus.FAILED, RunStatus.CANCELLED)
            and any(c.state != CollectionState.COMPLETED for c in run.collections))


INTERRUPTED = "Interrupted: the worker running this run stopped."  # as the sweep says


def _lost(run: Run) -> tuple[bool, Job | None]:
    """Tell whether an open run's job ended without ending it, or its worker died."""
    if RunStatus(run.status).terminal or run.job_id is None:
        return False, None
    job = db.session.get(Job, run.job_id)
    return job is None or JobStatus(job.status).terminal or jobs.is_stale(job), job


def _failure(job: Job | None) -> str:
    if job is None:
        return "The run stopped unexpectedly."
    if not JobStatus(job.status).terminal:
        return INTERRUPTED
    return job.error or "The run stopped unexpectedly."


def refresh(run: Run) -> RunStatus:
    """Return a run's status as a poll shows it: a lost run failed, nothing written.

    The sweep writes an abandoned run's verdict within seconds (a POST through `settle`);
    until then this request's run and collections show it, with nothing for the session
    to flush.
    """
    output.refresh(run)
    lost, job = _lost(run)
    if lost:
        message = _failure(job)
        set_committed_value(run, "status", RunStatus.FAILED)
        set_committed_value(run, "error", message)
        set_committed_value(run, "finished_at", utcnow())
        for collection in run.collections:
            if collection.state in (CollectionState.PENDING, CollectionState.RUNNING):
                set_committed_value(collection, "state", CollectionState.FAILED)
                set_committed_value(collection, "error", _interrupted_error(message))
    return RunStatus(run.status)


def _interrupted_error(message: str) -> dict[str, Any]:
    return {"category": "interrupted", "title": "Interrupted", "message": message,
            "advice": []}


def settle(run: Run) -> RunStatus:
    """Return a run's status, failing it for good first when its job ended or its worker died."""
    output.settle(run)
    lost, job = _lost(run)
    if lost:
        if job is not None and not JobStatus(job.status).terminal:
            jobs.mark_interrupted(job)  # the engine's tidy-up fails the run
        else:
            mark_failed(run, _failure(job))
        db.session.commit()
    return RunStatus(run.status)


def _sources(flow: Flow, graph: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the flow's source nodes in merge precedence, each with what it will read."""
    nodes = [n for n in graph.get("nodes", []) if n.get("kind") == "source"]
    merge = next((n for n in graph.get("nodes", []) if n.get("kind") == "merge"), None)
    order = list((merge or {}).get("config", {}).get("precedence") or [])
    ids = [n["id"] for n in nodes]
    order = [i for i in order if i in ids] + [i for i in ids if i not in order]
    since = _since(flow)
    table = registry().sources
    result = []
    for rank, node_id in enumerate(order):
        node = next(n for n in nodes if n["id"] == node_id)
        config = dict(node.get("config") or {})
        cls = table.get(node.get("plugin", ""))
        known = cls.entities if cls else tuple(ENTITY_LABELS)
        wanted = config.get("entities") or known
        delta = config.get("sync") == "delta" and since is not None
        result.append({
            "node": node_id, "rank": rank, "plugin": node.get("plugin"),
            "label": node.get("label") or (cls.name if cls else node.get("plugin")),
            "config": config,
            "entities": list(cls.chosen(config)) if cls else [e for e in known if e in wanted],
            "since": since if delta else None,
        })
    return result


def _since(flow: Flow) -> str | None:
    """Return when the flow's last successful run started, as an ISO 8601 UTC timestamp."""
    started = db.session.scalar(
        select(Run.started_at).where(Run.flow_id == flow.id,
                                     Run.status.in_([RunStatus.COMPLETED,
                                                     RunStatus.COMPLETED_WITH_WARNINGS]))
        .order_by(Run.started_at.desc()).limit(1))
    return started.strftime("%Y-%m-%dT%H:%M:%SZ") if started else None
