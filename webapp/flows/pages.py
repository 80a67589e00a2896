"""What the flow pages show: rows of the list, a flow's page, the wizard's steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import abort
from sqlalchemy import func, select

from webapp import plugins
from webapp.extensions import db
from webapp.flows import drafts, editor, preflight, services, wizard
from webapp.flows import graph as g
from webapp.models import Flow, FlowDraft, FlowMode
from webapp.models.runs import Run
from webapp.plugin_api import SOURCE_OPTIONS, Field
from webapp.runs.preview import preview
from webapp.schedules import services as schedules


@dataclass(frozen=True)
class FlowRow:
    flow: Flow
    sources: list[services.NodeView]
    output: services.NodeView | None
    last_run: Run | None
    schedule: schedules.ScheduleView | None


def last_runs(flow_ids: list[int]) -> dict[int, Run]:
    """Return the latest run of each flow."""
    if not flow_ids:
        return {}
    newest = select(func.max(Run.id)).where(Run.flow_id.in_(flow_ids)).group_by(Run.flow_id)
    return {run.flow_id: run for run in db.session.scalars(select(Run).where(Run.id.in_(newest)))}


def flow_rows() -> list[FlowRow]:
    """Return the list page's rows: each flow with its sources and last run."""
    flows = services.flows()
    connections = services.org_connections()
    latest = last_runs([f.id for f in flows])
    planned = schedules.views_of([f.id for f in flows])
    rows = []
    for flow in flows:
        views = services.describe(flow.graph or {}, connections)
        sources = [views[n["id"]] for n in g.sources(flow.graph or {})]
        output = g.output(flow.graph or {})
        rows.append(FlowRow(flow, sources, views.get(output["id"]) if output else None,
                            latest.get(flow.id), planned.get(flow.id)))
    return rows


def fits_wizard(graph: Mapping[str, Any]) -> bool:
    """The wizard edits flows of one source and no merge."""
    return len(g.sources(graph)) == 1 and g.merge(graph) is None \
        and g.sources(graph)[0]["id"] == wizard.SOURCE_ID


def flow_page(flow: Flow) -> dict[str, Any]:
    """Return the context of a flow's page."""
    graph = flow.graph or {}
    connections = services.org_connections()
    problems = services.check_graph(graph, connections)
    return {
        "flow": flow,
        "graph": graph,
        "picture": g.layout(graph),
        "views": services.describe(graph, connections, problems),
        "problems": problems,
        "can_delete": services.can_delete(flow),
        "fits_wizard": fits_wizard(graph),
        "last_run": last_runs([flow.id]).get(flow.id),
        "plugins": plugins.registry(),
        **schedules.fragment_context(flow),
    }


def wizard_context(draft: FlowDraft, step: str, errors: Mapping[str, str]) -> dict[str, Any]:
    """Return what a wizard step shows."""
    registry = plugins.registry()
    node = wizard.source_node(draft)
    context: dict[str, Any] = {
        "draft": draft, "step": step, "steps": wizard.STEPS, "errors": dict(errors),
        "done": {s: wizard.done(draft, s) for s in wizard.STEP_IDS},
        "previous": wizard.previous(step), "registry": registry, "node": node,
        "plugin": wizard.source_plugin(draft),
    }
    if step in ("configure", "options") and node is not None:
        context.update(source_form_context(draft, node, with_schools=step == "options"))
        context["wizard_next"] = True
    if step == "preview" and node is not None:
        context["preview"] = preview([node], organization_id=draft.organization_id)
    if step == "save":
        output = g.output(drafts.graph_of(draft))
        context["output_id"] = output["plugin"] if output else drafts.default_output()
        context["output_config"] = (output or {}).get("config") or {}
        context["name"] = draft.data.get("name", "")
        shown = schedules.view(schedules.schedule_of(draft.flow) if draft.flow else None)
        if draft.data.get("schedule") is not None:
            shown = schedules.typed(shown, draft.data["schedule"])
        context.update(schedule=shown, timezones=schedules.timezone_choices())
    return context


def source_form_context(draft: FlowDraft, node: Mapping[str, Any], *,
                        with_schools: bool = True) -> dict[str, Any]:
    """Return what the source configuration fragments (wizard and editor) need."""
    connections = services.org_connections()
    connection_id = (node.get("config") or {}).get(g.CONNECTION_KEY)
    cls = plugins.registry().sources.get(node.get("plugin", ""))
    check = preflight.view(draft, node)
    schools, note = [], ""
    if with_schools:
        schools, note = (list(check.schools), check.schools_note) if check.passed else (
            [], "Once the pre-flight passes, the source's schools are listed here.")
    return {
        "node": node,
        "plugin": cls,
        "own_settings": own_settings(cls),
        "connections": list(connections.values()),
        "connection_missing": connection_id is not None and connection_id not in connections,
        "preflight": check,
        "entity_choices": list(_entities_field(cls).choices),
        "entities_help": _entities_field(cls).help,
        "schools": schools,
        "schools_note": note,
    }


def _entities_field(cls: type | None) -> Field:
    """Return the collections option of a source plugin (the shared one if it has none)."""
    shared = next(f for f in SOURCE_OPTIONS if f.name == "entities")
    return next((f for f in (cls.options if cls else ()) if f.name == "entities"), shared)


@dataclass(frozen=True)
class OwnSettings:
    """A plugin as its form fragment sees it: the settings other than the connection."""

    id: str
    fields: tuple
    form_template: str


def own_settings(cls: type | None) -> OwnSettings | None:
    if cls is None:
        return None
    return OwnSettings(cls.id, tuple(f for f in cls.fields if f.kind != "connection"),
                       cls.form_template)


def preflight_context(draft: FlowDraft, node_id: str) -> dict[str, Any]:
    """Return the pre-flight fragment's context for one node of a draft."""
    node = g.node(drafts.graph_of(draft), node_id)
    if node is None or node.get("kind") != g.SOURCE:
        abort(404)
    wizard_mode = draft.mode == FlowMode.WIZARD
    return {"draft": draft, "node": node, "preflight": preflight.view(draft, node),
            "wizard_next": wizard_mode, "previous": "source" if wizard_mode else None}


def editor_context(draft: FlowDraft, errors: Mapping[str, str] | None = None,
                   selected: str | None = None) -> dict[str, Any]:
    """Return what the advanced editor shows: the picture, the problems, the open panel."""
    graph = drafts.graph_of(draft)
    connections = services.org_connections()
    checked = bool(draft.data.get("checked"))
    problems = services.check_graph(graph, connections)
    states = editor.preflights(draft)
    node = editor.selected(draft, selected)
    context: dict[str, Any] = {
        "draft": draft, "graph": graph, "picture": g.layout(graph), "states": states,
        "views": services.describe(graph, connections, problems if checked else None),
        "problems": problems, "checked": checked, "selected": node, "errors": dict(errors or {}),
        "registry": plugins.registry(), "name": draft.data.get("name", ""),
        "running": any(not state.terminal for state in states.values()),
        "wizard_next": False, "previous": None, "default_output": drafts.default_output(),
    }
    if node is not None and node.get("kind") == g.SOURCE:
        context.update(source_form_context(draft, node))
    return context
