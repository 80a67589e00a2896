"""What the flow pages show: rows of the list, a flow's page, the wizard's steps, the
editor, and the picture of a graph with a summary of each node."""

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
from webapp.models import Connection, Flow, FlowDraft, FlowMode
from webapp.models.runs import Run
from webapp.plugin_api import SOURCE_OPTIONS, Field
from webapp.runs.preview import preview
from webapp.schedules import services as schedules
from webapp.schedules import views as schedule_views


@dataclass(frozen=True)
class FlowRow:
    flow: Flow
    sources: list[NodeView]
    output: NodeView | None
    last_run: Run | None
    schedule: schedule_views.ScheduleView | None


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
    planned = schedule_views.views_of([f.id for f in flows])
    rows = []
    for flow in flows:
        views = describe(flow.graph or {}, connections)
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
        "picture": layout(graph),
        "views": describe(graph, connections, problems),
        "problems": problems,
        "can_delete": services.can_delete(flow),
        "fits_wizard": fits_wizard(graph),
        "last_run": last_runs([flow.id]).get(flow.id),
        "plugins": plugins.registry(),
        **schedule_views.fragment_context(flow),
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
        shown = schedule_views.view(schedules.schedule_of(draft.flow) if draft.flow else None)
        if draft.data.get("schedule") is not None:
            shown = schedule_views.typed(shown, draft.data["schedule"])
        context.update(schedule=shown, timezones=schedule_views.timezone_choices())
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
        "draft": draft, "graph": graph, "picture": layout(graph), "states": states,
        "views": describe(graph, connections, problems if checked else None),
        "problems": problems, "checked": checked, "selected": node, "errors": dict(errors or {}),
        "registry": plugins.registry(), "name": draft.data.get("name", ""),
        "running": any(not state.terminal for state in states.values()),
        "wizard_next": False, "previous": None, "default_output": drafts.default_output(),
    }
    if node is not None and node.get("kind") == g.SOURCE:
        context.update(source_form_context(draft, node))
    return context


# Describing nodes for people.

@dataclass(frozen=True)
class NodeView:
    """What the picture and the summaries show about one node."""

    id: str
    kind: str
    title: str
    detail: str = ""
    connection: Connection | None = None
    connection_missing: bool = False
    problems: tuple[str, ...] = ()


def describe(graph: Mapping[str, Any], connections: Mapping[int, Connection],
             problems: g.Problems | None = None) -> dict[str, NodeView]:
    """Return a NodeView per node id: plugin names, connection and status, problems."""
    registry = plugins.registry()
    labels = {s["id"]: s.get("label") or s["id"] for s in g.sources(graph)}
    views = {}
    for node in g.nodes(graph):
        node_id = node.get("id", "")
        found = tuple(problems.of(node_id)) if problems else ()
        if node.get("kind") == g.MERGE:
            order = (node.get("config") or {}).get("precedence") or []
            detail = f"{labels.get(order[0], order[0])} wins on duplicates" if order else ""
            views[node_id] = NodeView(node_id, g.MERGE, "Merge", detail, problems=found)
        else:
            views[node_id] = _describe_node(node, registry, connections, found)
    return views


def _describe_node(node: Mapping[str, Any], registry: plugins.Registry,
                   connections: Mapping[int, Connection],
                   problems: tuple[str, ...]) -> NodeView:
    kind = node.get("kind", "")
    config = node.get("config") or {}
    table = registry.sources if kind == g.SOURCE else registry.outputs
    cls = table.get(node.get("plugin", ""))
    title = getattr(cls, "name", None) or node.get("plugin") or "Unknown plugin"
    if kind != g.SOURCE:
        return NodeView(node["id"], kind, title, problems=problems)
    label = node.get("label") or title
    connection_id = config.get(g.CONNECTION_KEY)
    if not getattr(cls, "uses_connection", False):
        return NodeView(node["id"], kind, label, _options_text(config), problems=problems)
    if connection_id in (None, ""):
        return NodeView(node["id"], kind, label, "No connection chosen", problems=problems)
    connection = connections.get(connection_id)
    if connection is None:
        return NodeView(node["id"], kind, label, "Connection missing",
                        connection_missing=True, problems=problems)
    # A source named after its connection says which plugin reads it instead.
    detail = connection.name if label != connection.name else title
    return NodeView(node["id"], kind, label, detail, connection=connection, problems=problems)


def _options_text(config: Mapping[str, Any]) -> str:
    entities = config.get("entities") or []
    what = "all collections" if len(entities) == 5 else f"{len(entities)} collections"
    return f"{config.get('sync', 'full')} sync, {what}"


# Layout of the picture.

NODE_W = 240  # room for a 24-character title in bold
NODE_H = 72
GAP_Y = 22
COLUMN_GAP = 56
PAD = 14


@dataclass(frozen=True)
class Box:
    node_id: str
    kind: str
    x: int
    y: int
    w: int = NODE_W
    h: int = NODE_H

    @property
    def in_x(self) -> int:
        return self.x

    @property
    def out_x(self) -> int:
        return self.x + self.w

    @property
    def mid_y(self) -> int:
        return self.y + self.h // 2


@dataclass(frozen=True)
class Edge:
    start: str
    end: str
    path: str  # SVG path data


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    boxes: list[Box]
    edges: list[Edge]

    def box(self, node_id: str) -> Box | None:
        return next((b for b in self.boxes if b.node_id == node_id), None)


def layout(graph: Mapping[str, Any]) -> Layout:
    """Place sources in a column on the left, the merge in the middle, the output right."""
    source_nodes = g.sources(graph)
    merge_node = g.merge(graph)
    output_node = g.output(graph)
    rows = max(1, len(source_nodes))
    height = PAD * 2 + rows * NODE_H + (rows - 1) * GAP_Y
    centre = height // 2 - NODE_H // 2
    boxes = [Box(s["id"], g.SOURCE, PAD, PAD + i * (NODE_H + GAP_Y))
             for i, s in enumerate(source_nodes)]
    column = PAD + NODE_W + COLUMN_GAP
    merge_box = None
    if merge_node is not None:
        merge_box = Box(merge_node["id"], g.MERGE, column, centre)
        boxes.append(merge_box)
        column += NODE_W + COLUMN_GAP
    output_box = None
    if output_node is not None:
        output_box = Box(output_node["id"], g.OUTPUT, column, centre)
        boxes.append(output_box)
    width = column + NODE_W + PAD
    edges = []
    feed = merge_box or output_box
    if feed is not None and (merge_box or len(source_nodes) == 1):
        edges += [_edge(b, feed) for b in boxes if b.kind == g.SOURCE]
    if merge_box is not None and output_box is not None:
        edges.append(_edge(merge_box, output_box))
    return Layout(width, height, boxes, edges)


def _edge(start: Box, end: Box) -> Edge:
    x1, y1, x2, y2 = start.out_x, start.mid_y, end.in_x, end.mid_y
    bend = (x2 - x1) // 2
    return Edge(start.node_id, end.node_id,
                f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}")
