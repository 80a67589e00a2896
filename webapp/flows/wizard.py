"""The step-by-step wizard: which steps exist, which are open, and what each one stores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_login import current_user

from webapp import plugins
from webapp.flows import drafts, preflight
from webapp.flows import graph as g
from webapp.flows.services import FlowInvalid, name_error, save_flow, source_label
from webapp.models import Flow, FlowDraft, FlowMode
from webapp.schedules import services as schedules


@dataclass(frozen=True)
class Step:
    id: str
    title: str


STEPS = (
    Step("source", "Source"),
    Step("configure", "Configure"),
    Step("options", "Options"),
    Step("preview", "Preview"),
    Step("save", "Output & save"),
)
STEP_IDS = tuple(s.id for s in STEPS)
SOURCE_ID = "source-1"


def source_node(draft: FlowDraft) -> dict[str, Any] | None:
    """Return the wizard's one source node."""
    return g.node(drafts.graph_of(draft), SOURCE_ID)


def source_plugin(draft: FlowDraft) -> type | None:
    node = source_node(draft)
    return plugins.registry().sources.get(node["plugin"]) if node else None


def done(draft: FlowDraft, step: str) -> bool:
    """Tell whether a step's answer is stored and still valid."""
    node = source_node(draft)
    cls = source_plugin(draft)
    if step == "source":
        return cls is not None
    if cls is None or node is None:
        return False
    if step == "configure":
        return not field_errors(cls, node["config"]) and preflight.passed(draft, node)
    if step == "options":
        return bool(draft.data.get("options_done"))
    if step == "preview":
        return bool(draft.data.get("previewed"))
    return False


def first_open(draft: FlowDraft) -> str:
    """Return the first step still to answer (the last one when all are answered)."""
    return next((s for s in STEP_IDS if not done(draft, s)), STEP_IDS[-1])


def reachable(draft: FlowDraft, step: str) -> bool:
    """A step can be shown once every step before it is answered."""
    return STEP_IDS.index(step) <= STEP_IDS.index(first_open(draft))


def previous(step: str) -> str | None:
    index = STEP_IDS.index(step)
    return STEP_IDS[index - 1] if index else None


def following(step: str) -> str | None:
    index = STEP_IDS.index(step)
    return STEP_IDS[index + 1] if index + 1 < len(STEP_IDS) else None


def visit(draft: FlowDraft, step: str) -> None:
    """Remember the step on screen, so a resumed draft opens where it was left."""
    if draft.step != step:
        draft.step = step
        drafts.update(draft)


def field_errors(cls: type, config: Mapping[str, Any]) -> dict[str, str]:
    """Return the errors of a node's configuration, for the plugin's own fields only."""
    _, errors = cls.parse(config)
    own = {f.name for f in cls.fields}
    return {k: v for k, v in errors.items() if k in own}


def parse_fields(cls: type, fields: tuple, values: Any, current: Mapping[str, Any]
                 ) -> tuple[dict[str, Any], dict[str, str]]:
    """Read some of a plugin's fields from a submitted form, keeping the others as they were."""
    config, errors = cls.parse(values)
    names = {f.name for f in fields}
    merged = {**dict(current), **{k: v for k, v in config.items() if k in names}}
    return merged, {k: v for k, v in errors.items() if k in names}


def edit(flow: Flow) -> FlowDraft:
    """Open (or resume) a wizard draft of a saved flow, its pre-flight already running."""
    draft = drafts.start(FlowMode.WIZARD, flow)
    if "options_done" not in draft.data:
        drafts.update(draft, options_done=True, previewed=True)
    node = source_node(draft)
    cls = source_plugin(draft)
    if node and cls and not field_errors(cls, node["config"]) \
            and preflight.view(draft, node).status == preflight.IDLE:
        preflight.start(draft, node)
    return draft


# What each step stores.

def choose_source(draft: FlowDraft, plugin_id: str) -> str | None:
    """Store the chosen source plugin; return an error message instead."""
    cls = plugins.registry().sources.get(plugin_id)
    if cls is None:
        return "Choose one of the sources listed."
    node = source_node(draft)
    if node is not None and node["plugin"] == plugin_id:
        return None
    graph, _ = g.add_source(g.empty(), plugin_id, cls.name, cls.defaults())
    drafts.update(draft, graph=graph, preflight={}, options_done=False, previewed=False)
    return None


def configure(draft: FlowDraft, values: Any) -> dict[str, str]:
    """Store the source's own settings and start its pre-flight; return errors per field."""
    cls = source_plugin(draft)
    node = source_node(draft)
    config, errors = parse_fields(cls, cls.fields, values, node["config"])
    config = _without(cls, config, (values.get("without") or "").split(","))
    node = {**node, "config": config,
            "label": source_label(cls, node.get("label") or "", node, config)}
    drafts.update(draft, graph=g.replace_node(drafts.graph_of(draft), node), previewed=False)
    check = preflight.view(draft, node)
    if not errors and (check.stale or check.status in (preflight.IDLE, preflight.FAILED)):
        errors = preflight.start(draft, node)
    return errors


def _without(cls: type, config: dict[str, Any], left_out: list[str]) -> dict[str, Any]:
    """Untick collections the pre-flight found closed ("Continue without Enrollments")."""
    if not any(left_out):
        return config
    chosen = [e for e in (config.get("entities") or cls.entities) if e not in left_out]
    return {**config, "entities": chosen} if chosen else config


def options_values(form: Any) -> dict[str, Any]:
    """Read the options form: ticked collections, sync, ticked and typed school sourcedIds."""
    schools = list(form.getlist("schools")) + [form.get("schools_text", "")]
    return {"entities": form.getlist("entities"), "sync": form.get("sync", "full"),
            "schools": list(dict.fromkeys("\n".join(schools).replace(",", "\n").split()))}


def set_options(draft: FlowDraft, form: Any) -> dict[str, str]:
    """Store which collections, full or delta, and which schools; return errors per field."""
    cls = source_plugin(draft)
    node = source_node(draft)
    config, errors = parse_fields(cls, cls.options, options_values(form), node["config"])
    node = {**node, "config": config}
    drafts.update(draft, graph=g.replace_node(drafts.graph_of(draft), node),
                  options_done=not errors, previewed=False)
    return errors


def mark_previewed(draft: FlowDraft) -> None:
    drafts.update(draft, previewed=True)


def finish(draft: FlowDraft, values: Mapping[str, Any]) -> tuple[Flow | None, dict[str, str]]:
    """Save the flow from the last step's answers; return it, or errors per field."""
    name = (values.get("name") or "").strip()
    output_id = values.get("output") or ""
    graph = drafts.graph_of(draft)
    errors = {}
    if output_id not in plugins.registry().outputs:
        errors["output"] = "Choose where the data goes."
    else:
        config, errors = output_config(draft, output_id, values)
        graph = g.set_output(graph, output_id, config)
    # A form without the schedule fields (an older page) leaves the schedule as it is.
    typed = ({k: values.get(k, "") for k in ("cadence", "every_days", "at", "timezone",
                                             "paused")} if "cadence" in values else None)
    drafts.update(draft, graph=graph, name=name, schedule=typed)
    error = name_error(name, flow=draft.flow)
    if error:
        errors["name"] = error
    timing, schedule_errors = schedules.read_form(typed) if typed else (None, {})
    errors.update(schedule_errors)
    if errors:
        return None, errors
    try:
        flow = save_flow(name=name, graph=graph, mode=FlowMode.WIZARD, flow=draft.flow)
    except FlowInvalid as exc:
        return None, {"flow": "; ".join(exc.problems.all())}
    if timing is not None:
        schedules.save(flow, timing, current_user if current_user.is_authenticated else None)
    drafts.discard(draft)
    return flow, {}


def output_config(draft: FlowDraft, output_id: str,
                  values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the output's configuration with the settings the form sent, and their errors."""
    cls = plugins.registry().outputs[output_id]
    current = draft_output_config(draft, output_id)
    sent = [f for f in cls.fields if f.name in values]
    return parse_fields(cls, tuple(sent), values, current)


def draft_output_config(draft: FlowDraft, output_id: str) -> dict[str, Any]:
    """Return the output's stored configuration when it stays the same plugin."""
    node = g.output(drafts.graph_of(draft))
    if node is not None and node.get("plugin") == output_id:
        return dict(node.get("config") or {})
    return plugins.registry().outputs[output_id].defaults()
