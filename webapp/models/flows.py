"""Flows: a graph of sources, an optional merge and an output; and the drafts people edit."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.accounts import User
from webapp.models.common import Timestamps


class FlowMode(enum.StrEnum):
    WIZARD = "wizard"
    ADVANCED = "advanced"

    @property
    def label(self) -> str:
        return "Wizard" if self is FlowMode.WIZARD else "Advanced editor"


class Flow(Timestamps, db.Model):
    __tablename__ = "flows"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    mode: Mapped[FlowMode] = mapped_column(String(16), default=FlowMode.WIZARD)
    # {"nodes": [...]} as described in webapp/flows/graph.py.
    graph: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    created_by: Mapped[User | None] = relationship()

    @property
    def mode_label(self) -> str:
        return FlowMode(self.mode).label

    def __repr__(self) -> str:
        return f"<Flow {self.id} {self.name!r}>"


class FlowDraft(Timestamps, db.Model):
    """A flow being built or edited by one person, kept server-side so it can be resumed."""

    __tablename__ = "flow_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Set when the draft edits a saved flow; deleting the flow drops its drafts.
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    mode: Mapped[FlowMode] = mapped_column(String(16), default=FlowMode.WIZARD)
    step: Mapped[str] = mapped_column(String(32), default="source")
    # {"name": str, "graph": {...}, "preflight": {node_id: {...}}, "selected": node_id}
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    flow: Mapped[Flow | None] = relationship()

    def __repr__(self) -> str:
        return f"<FlowDraft {self.id} {self.mode} {self.step}>"
