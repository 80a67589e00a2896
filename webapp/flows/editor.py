"""The advanced editor: every panel change edits the draft's graph on the server."""

from __future__ import annotations

from typing import Any

from webapp import plugins
from webapp.flows import drafts, preflight, wizard
from webapp.flows import graph as g
from webapp.flows.services import LABEL_MAX, save_flow, source_label
from webapp.models import Flow, FlowDraft, FlowMode


def selected(draft: FlowDraft, node_id: str | None) -> dict[str, Any] | None:
    """Return the node whose panel is open (named by the request, never stored)."""
    return g.node(drafts.graph_of(draft), node_id) if node_id else None


def add_source(draft: FlowDraft, plugin_id: str) -> tuple[str | None, str | None]:
    """Add a source node; return its id (its panel opens), or an error message instead."""
    cls = plugins.registry().sources.get(plugin_id)
    if cls is None:
        return None, "Choose one of the source plugins listed."
    graph = drafts.graph_of(draft)
    if len(g.sources(graph)) >= g.MAX_SOURCES:
        return None, f"A flow can have at most {g.MAX_SOURCES} sources."
    graph, node_id = g.add_source(graph, plugin_id, cls.name, cls.defaults())
    drafts.update(draft, graph=graph)
    return node_id, None


def add_merge(draft: FlowDraft) -> str:
    """Add the merge node; return its id (its panel opens)."""
    drafts.update(draft, graph=g.add_merge(drafts.graph_of(draft)))
    return g.MERGE_ID


def remove(draft: FlowDraft, node_id: str) -> None:
    """Remove a node; its panel closes."""
    runs = {k: v for k, v in (draft.data.get("preflight") or {}).items() if k != node_id}
    drafts.update(draft, graph=g.remove_node(drafts.graph_of(draft), node_id), preflight=runs)


def configure(draft: FlowDraft, node: dict[str, Any], form: Any) -> dict[str, str]:
    """Store a node's panel: a source's settings and options, the output's plugin."""
    if node["kind"] == g.SOURCE:
        return _configure_source(draft, node, form)
    if node["kind"] == g.OUTPUT:
        output_id = form.get("output", "")
        if output_id not in plugins.registry().outputs:
            return {"output": "Choose where the data goes."}
        config, errors = wizard.output_config(draft, output_id, form)
        if errors:
            return errors
        drafts.update(draft, graph=g.set_output(drafts.graph_of(draft), output_id, config))
    return {}


def _configure_source(draft: FlowDraft, node: dict[str, Any], form: Any) -> dict[str, str]:
    cls = plugins.registry().sources.get(node["plugin"])
    if cls is None:
        return {"plugin": "This source plugin is not installed; remove the node."}
    config, errors = wizard.parse_fields(cls, cls.fields, form, node["config"])
    config, option_errors = wizard.parse_fields(cls, cls.options,
                                                wizard.options_values(form), config)
    typed = (form.get("label") or "").strip()[:LABEL_MAX]
    updated = {**node, "label": source_label(cls, typed, node, config), "config": config}
    drafts.update(draft, graph=g.replace_node(drafts.graph_of(draft), updated))
    return {**errors, **option_errors}


def move(draft: FlowDraft, node_id: str, direction: str) -> None:
    """Move a source up or down the merge precedence."""
    step = -1 if direction == "up" else 1
    drafts.update(draft, graph=g.move_in_precedence(drafts.graph_of(draft), node_id, step))


def validate(draft: FlowDraft) -> None:
    """Run the pre-flight of every source that is configured enough to try, by hand."""
    drafts.update(draft, checked=True)
    for node in g.sources(drafts.graph_of(draft)):
        cls = plugins.registry().sources.get(node["plugin"])
        if cls is not None and not wizard.field_errors(cls, node["config"]):
            preflight.start(draft, node)


def preflights(draft: FlowDraft) -> dict[str, preflight.PreflightView]:
    """Return each source node's pre-flight as it stands."""
    return {n["id"]: preflight.view(draft, n) for n in g.sources(drafts.graph_of(draft))}


def save(draft: FlowDraft, name: str) -> Flow:
    """Save the draft as a flow and close the draft; raise FlowInvalid with the reasons."""
    drafts.update(draft, name=name.strip(), checked=True)
    flow = save_flow(name=name, graph=drafts.graph_of(draft), mode=FlowMode.ADVANCED,
                     flow=draft.flow)
    drafts.discard(draft)
    return flow
