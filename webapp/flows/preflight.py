"""The pre-flight of a draft's source nodes: started by hand, run as a job, read back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_login import current_user

from webapp import jobs, plugins, tenancy
from webapp.connections import services
from webapp.connections import views as connection_views
from webapp.connections.views import TestView
from webapp.extensions import db
from webapp.flows import drafts
from webapp.flows import graph as g
from webapp.flows import services as flows_services
from webapp.models import Connection, FlowDraft, Job
from webapp.plugin_api import (
    ENTITY_LABELS,
    ERROR,
    SOURCE_OPTIONS,
    Checklist,
    ErrorInfo,
    PreflightReport,
    SourceError,
    SourceUnavailable,
)
from webapp.plugin_api import FAILED as FAILED_STEP

KIND = "flow.preflight"
OPTION_NAMES = frozenset(f.name for f in SOURCE_OPTIONS)
IDLE, RUNNING, PASSED, FAILED = "idle", "running", "passed", "failed"


@dataclass(frozen=True)
class PreflightView:
    """Where one source node's pre-flight stands, for the checklist and the graph."""

    node_id: str
    status: str = IDLE
    report: PreflightReport | None = None  # once it ended
    checklist: TestView | None = None  # the connection test's checklist of this pre-flight
    stale: bool = False  # the node changed since this pre-flight ran
    schools: tuple[tuple[str, str], ...] = ()  # (sourcedId, name) the source offers
    schools_note: str = ""  # why the list is short or missing

    @property
    def errors(self) -> tuple[str, ...]:
        return self.report.errors if self.report else ()

    @property
    def totals(self) -> Mapping[str, int | None]:
        return self.report.totals if self.report else {}

    @property
    def terminal(self) -> bool:
        return self.status != RUNNING

    @property
    def passed(self) -> bool:
        return self.status == PASSED and not self.stale

    @property
    def blocked(self) -> tuple[str, ...]:
        """Return the collections that alone failed a finished pre-flight (say, forbidden).

        When every other step passed, leaving these out is a way on; when the token or
        every collection failed, it is not.
        """
        if self.status != FAILED or self.stale or self.checklist is None:
            return ()
        steps = self.checklist.steps
        failed = tuple(s.id for s in steps if s.state == FAILED_STEP)
        collections = [s.id for s in steps if s.id in ENTITY_LABELS]
        if not failed or any(f not in ENTITY_LABELS for f in failed) \
                or len(failed) == len(collections):
            return ()
        return failed

    @property
    def blocked_labels(self) -> str:
        """Name the blocked collections for a button: "Enrollments", "Classes and Users"."""
        names = [ENTITY_LABELS[e] for e in self.blocked]
        return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]])) if names else ""

    @property
    def advice(self) -> tuple[str, ...]:
        error = self.checklist.error if self.checklist else None
        return error.advice if error else ()


def fingerprint(node: Mapping[str, Any]) -> str:
    """Return a key that changes whenever the node's plugin or its own settings change.

    The shared options (collections, sync, schools) are left out: narrowing them after a
    pre-flight of every collection does not make it wrong.
    """
    config = {k: v for k, v in (node.get("config") or {}).items() if k not in OPTION_NAMES}
    payload = json.dumps({"plugin": node.get("plugin"), "config": config},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def start(draft: FlowDraft, node: Mapping[str, Any]) -> dict[str, str]:
    """Start the pre-flight of a source node; return field errors that prevent it."""
    cls = plugins.registry().sources.get(node.get("plugin", ""))
    if cls is None:
        return {"plugin": "This source plugin is not installed."}
    config = node.get("config") or {}
    if cls.uses_connection:
        connection_id = config.get(g.CONNECTION_KEY)
        if connection_id is None:
            return {g.CONNECTION_KEY: "Choose a connection."}
        if db.session.scalar(tenancy.scoped(Connection)
                             .where(Connection.id == connection_id)) is None:
            return {g.CONNECTION_KEY: "Connection missing: it was deleted. Choose another."}
    job = jobs.runner().submit(KIND, organization_id=draft.organization_id,
                               created_by_id=current_user.id, plugin=node["plugin"],
                               config=dict(config))
    runs = dict(draft.data.get("preflight") or {})
    runs[node["id"]] = {"job_id": job.id, "key": fingerprint(node)}
    drafts.update(draft, preflight=runs)
    return {}


def view(draft: FlowDraft, node: Mapping[str, Any]) -> PreflightView:
    """Read the pre-flight of a node from its job."""
    entry = (draft.data.get("preflight") or {}).get(node.get("id", ""))
    job = db.session.get(Job, entry["job_id"]) if entry else None
    if job is None:
        return PreflightView(node.get("id", ""))
    stale = entry.get("key") != fingerprint(node)
    checklist = connection_views.preflight_view(job)
    if checklist.running:
        return PreflightView(node["id"], RUNNING, checklist=checklist, stale=stale)
    report = connection_views.preflight_report(job)
    result = job.result or {}
    return PreflightView(node["id"], PASSED if report.ok else FAILED, report, checklist, stale,
                         tuple(tuple(s) for s in result.get("schools") or ()),
                         result.get("schools_note") or "")


def passed(draft: FlowDraft, node: Mapping[str, Any]) -> bool:
    return view(draft, node).passed


@jobs.handler(KIND)
def run_preflight(ctx: jobs.JobContext) -> dict[str, Any]:
    """Run a source plugin's pre-flight through the contract, its checklist live on the job.

    A pre-flight that passed also lists the schools the source offers, for the school filter.
    """
    cls = plugins.registry().source(ctx.params["plugin"])
    budget = float(current_app.config["TEST_BUDGET_S"])
    try:
        config = services.source_config(cls, cls.clean(ctx.params["config"]),
                                        organization_id=ctx.organization_id,
                                        reason="pre-flight check", budget=budget,
                                        actor_id=ctx.created_by_id)
        result = cls.preflight(config, lambda snapshot: ctx.report(snapshot.to_json()), ctx)
    except (SourceError, SourceUnavailable) as error:
        result = _failed(error.title, error.message, tuple(getattr(error, "advice", ())))
    if not result.ok:
        return result.to_json()
    node = {"plugin": ctx.params["plugin"], "config": ctx.params["config"]}
    schools, note = flows_services.list_schools(node, ctx.organization_id, ctx.created_by_id)
    return {**result.to_json(), "schools": [list(s) for s in schools], "schools_note": note}


def _failed(title: str, message: str, advice: tuple[str, ...]) -> PreflightReport:
    """Return the pre-flight of a source that could not even start checking."""
    error = ErrorInfo("unavailable", title, message, advice=advice)
    return PreflightReport(Checklist(ERROR, error=error), errors=(f"{title}: {message}",))
