"""The work behind the flow pages: saving and checking flows, describing their nodes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp import audit, plugins, tenancy
from webapp.connections.services import open_source
from webapp.extensions import db
from webapp.flows import graph as g
from webapp.models import Connection, Flow, FlowMode

NAME_MAX = 100
DUPLICATE_NAME = "Another flow of this organization already has this name."


class FlowInvalid(Exception):
    """A flow that cannot be saved, with the reasons (per node and for the flow)."""

    def __init__(self, problems: g.Problems, name_error: str | None = None) -> None:
        super().__init__("; ".join(problems.all() + ([name_error] if name_error else [])))
        self.problems = problems
        self.name_error = name_error


def connection_plugins() -> set[str]:
    """Return the ids of the source plugins that read through a saved connection."""
    return {pid for pid, cls in plugins.registry().sources.items()
            if getattr(cls, "uses_connection", False)}


def org_connections() -> dict[int, Connection]:
    """Return the active organization's connections by id."""
    rows = db.session.scalars(tenancy.scoped(Connection).order_by(Connection.name))
    return {c.id: c for c in rows}


LABEL_MAX = 60


def source_label(cls: type, typed: str, before: Mapping[str, Any],
                 config: Mapping[str, Any]) -> str:
    """Name a source: what the person typed, else its connection's name, else the plugin's.

    A label nobody chose (the plugin's name, or the name of the connection chosen before)
    follows the connection, so two OneRoster sources are told apart by what they read.
    """
    connections = org_connections() if getattr(cls, "uses_connection", False) else {}
    old = connections.get((before.get("config") or {}).get(g.CONNECTION_KEY))
    automatic = {cls.name, old.name if old else cls.name}
    if typed and typed not in automatic:
        return typed
    chosen = connections.get(config.get(g.CONNECTION_KEY))
    return chosen.name[:LABEL_MAX] if chosen else cls.name


def check_graph(graph: Mapping[str, Any],
                connections: Mapping[int, Connection] | None = None) -> g.Problems:
    """Explain what keeps a graph of the active organization from being saved."""
    registry = plugins.registry()
    if connections is None:
        connections = org_connections()
    return g.check(graph, source_plugins=registry.sources, output_plugins=registry.outputs,
                   connection_plugins=connection_plugins(), connections=connections)


def name_error(name: str, *, flow: Flow | None = None) -> str | None:
    """Return why a flow name cannot be used in the active organization, or None."""
    name = name.strip()
    if not name:
        return "Give the flow a name."
    if len(name) > NAME_MAX:
        return f"Keep the name under {NAME_MAX} characters."
    query = tenancy.scoped(Flow).where(func.lower(Flow.name) == name.lower())
    if flow is not None:
        query = query.where(Flow.id != flow.id)
    if db.session.scalar(query) is not None:
        return DUPLICATE_NAME
    return None


def save_flow(*, name: str, graph: Mapping[str, Any], mode: FlowMode,
              flow: Flow | None = None) -> Flow:
    """Create or update a flow of the active organization; raise FlowInvalid instead."""
    problems = check_graph(graph)
    error = name_error(name, flow=flow)
    if error or not problems.ok:
        raise FlowInvalid(problems, error)
    org = tenancy.current_org()
    created = flow is None
    if flow is None:
        flow = Flow(organization_id=org.id, created_by_id=current_user.id)
        db.session.add(flow)
    flow.name = name.strip()
    flow.graph = dict(graph)
    flow.mode = mode
    try:
        db.session.flush()
    except IntegrityError:  # the same name saved a moment ago by someone else
        db.session.rollback()
        raise FlowInvalid(problems, DUPLICATE_NAME) from None
    audit.record("flow.created" if created else "flow.updated",
                 f"{'Created' if created else 'Updated'} flow {flow.name}",
                 organization_id=org.id, target=flow)
    db.session.commit()
    return flow


def can_delete(flow: Flow) -> bool:
    """Admins and the flow's creator may delete it."""
    return tenancy.is_admin() or (current_user.is_authenticated
                                  and flow.created_by_id == current_user.id)


def delete_flow(flow: Flow) -> None:
    """Delete a flow and its history."""
    audit.record("flow.deleted", f"Deleted flow {flow.name}",
                 organization_id=flow.organization_id, target=flow)
    db.session.delete(flow)
    db.session.commit()


def flows() -> list[Flow]:
    """Return the active organization's flows, by name."""
    return list(db.session.scalars(tenancy.scoped(Flow).order_by(func.lower(Flow.name))))


def flows_using_connection(connection: Connection) -> list[Flow]:
    """Return the flows of the connection's organization that read through it."""
    rows = db.session.scalars(select(Flow).where(
        Flow.organization_id == connection.organization_id).order_by(Flow.name))
    return [f for f in rows if connection.id in g.connection_ids(f.graph or {})]


SCHOOL_SAMPLE = 500


def list_schools(node: Mapping[str, Any], organization_id: int, actor_id: int | None = None
                 ) -> tuple[list[tuple[str, str]], str]:
    """Read the schools a source offers (a small read of its orgs), with a note for people."""
    cls = plugins.registry().sources.get(node.get("plugin", ""))
    if cls is None:
        return [], ""
    try:
        # List every school the source offers, not only those an earlier choice kept.
        config = {k: v for k, v in (node.get("config") or {}).items() if k != "schools"}
        source = open_source(cls, config, organization_id=organization_id,
                             reason="flow preview",
                             time_budget=current_app.config["TEST_BUDGET_S"],
                             actor_id=actor_id)
        sample = source.sample(["orgs"], SCHOOL_SAMPLE).get("orgs")
    except Exception as exc:  # any failure leaves the free-text filter, with the reason
        reason = getattr(exc, "message", None) or "the source could not be read"
        return [], f"The schools could not be listed ({reason}); enter sourcedIds instead."
    if sample is None or sample.error is not None:
        return [], "The schools could not be listed; enter sourcedIds instead."
    schools = [(r.sourced_id, r.data.get("name") or r.sourced_id) for r in sample.records
               if r.data.get("type") == "school"]
    note = ("Only the first schools are listed; enter other sourcedIds below."
            if sample.more or (sample.total or 0) > SCHOOL_SAMPLE else "")
    return sorted(schools, key=lambda s: s[1].lower()), note
