"""Drafts: the flow a person is building or editing, kept server-side after every change."""

from __future__ import annotations

import copy
from typing import Any

from flask import abort
from flask_login import current_user

from webapp import plugins, tenancy
from webapp.extensions import db
from webapp.flows import graph as g
from webapp.models import Flow, FlowDraft, FlowMode
from webapp.models.common import utcnow

DEFAULT_OUTPUT = "output-oneroster-csv"


def start(mode: FlowMode, flow: Flow | None = None) -> FlowDraft:
    """Open a draft for a new flow, or for editing a saved one, owned by the signed-in person.

    Editing a flow that already has a draft of this person in the same mode resumes it.
    """
    if flow is not None:
        existing = db.session.scalar(tenancy.scoped(FlowDraft).where(
            FlowDraft.flow_id == flow.id, FlowDraft.user_id == current_user.id,
            FlowDraft.mode == mode))
        if existing is not None:
            return existing
    data: dict[str, Any] = {"name": "", "graph": g.empty(), "preflight": {}}
    if flow is not None:
        data.update(name=flow.name, graph=copy.deepcopy(flow.graph or g.empty()))
    elif mode is FlowMode.ADVANCED:
        data["graph"] = g.set_output(g.empty(), default_output())
    draft = FlowDraft(organization_id=tenancy.current_org().id, user_id=current_user.id,
                      flow_id=flow.id if flow else None, mode=mode, data=data,
                      step="configure" if flow is not None else "source")
    db.session.add(draft)
    db.session.commit()
    return draft


def default_output() -> str:
    """Return the output plugin a new flow starts with."""
    outputs = plugins.registry().outputs
    return DEFAULT_OUTPUT if DEFAULT_OUTPUT in outputs else next(iter(outputs), DEFAULT_OUTPUT)


def get_or_404(draft_id: int, mode: FlowMode | None = None) -> FlowDraft:
    """Load one of the signed-in person's drafts in the active organization; 404 otherwise."""
    draft = db.session.scalar(
        tenancy.scoped(FlowDraft).where(FlowDraft.id == draft_id,
                                        FlowDraft.user_id == current_user.id))
    if draft is None or (mode is not None and draft.mode != mode):
        abort(404)
    return draft


def open_drafts() -> list[FlowDraft]:
    """Return the signed-in person's unfinished drafts, newest first."""
    return list(db.session.scalars(
        tenancy.scoped(FlowDraft).where(FlowDraft.user_id == current_user.id)
        .order_by(FlowDraft.updated_at.desc(), FlowDraft.id.desc())))


def graph_of(draft: FlowDraft) -> dict[str, Any]:
    return copy.deepcopy(draft.data.get("graph") or g.empty())


def update(draft: FlowDraft, *, graph: dict[str, Any] | None = None, **data: Any) -> None:
    """Store changes to a draft at once, so a refresh or a closed tab loses nothing."""
    new = copy.deepcopy(draft.data or {})
    if graph is not None:
        new["graph"] = graph
    new.update(data)
    draft.data = new
    draft.updated_at = utcnow()
    db.session.commit()


def discard(draft: FlowDraft) -> None:
    db.session.delete(draft)
    db.session.commit()

