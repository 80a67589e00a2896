"""Schedules of flows, and one row per flow and due time that only one scheduler can claim."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.common import Timestamps, utcnow
from webapp.models.flows import Flow

DEFAULT_TIMEZONE = "Europe/Warsaw"


class Cadence(enum.StrEnum):
    OFF = "off"
    DAILY = "daily"
    EVERY = "every"  # every N days, counted from starts_on

    @property
    def label(self) -> str:
        return {"off": "Off", "daily": "Daily", "every": "Every few days"}[self.value]


class Schedule(Timestamps, db.Model):
    """When a flow runs on its own. Pausing keeps the settings; Off forgets nothing either."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), unique=True)
    cadence: Mapped[Cadence] = mapped_column(String(16), default=Cadence.OFF)
    every_days: Mapped[int] = mapped_column(Integer, default=1)
    at: Mapped[str] = mapped_column(String(5), default="02:00")  # HH:MM, wall-clock time
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    starts_on: Mapped[date]  # the local day every-N-days counts from
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # The next due time in UTC (naive, like every timestamp); None while off or paused.
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)
    # The due time whose connections were last re-tested ahead of it.
    health_checked_for: Mapped[datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    flow: Mapped[Flow] = relationship()

    @property
    def active(self) -> bool:
        return self.cadence != Cadence.OFF and not self.paused

    def __repr__(self) -> str:
        return f"<Schedule flow={self.flow_id} {self.cadence} {self.every_days}d {self.at}>"


class DueRunOutcome(enum.StrEnum):
    STARTED = "started"
    SKIPPED = "skipped"  # the previous run was still going
    REFUSED = "refused"  # the flow could not start (e.g. no source)
    UNAVAILABLE = "unavailable"  # the job backend could not be reached


class DueRun(db.Model):
    """A flow's run due at one time. The unique key lets exactly one scheduler claim it."""

    __tablename__ = "due_runs"
    __table_args__ = (UniqueConstraint("flow_id", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]
    claimed_by: Mapped[str] = mapped_column(String(100))  # host and process id
    outcome: Mapped[DueRunOutcome] = mapped_column(String(16), default=DueRunOutcome.STARTED)
    note: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<DueRun flow={self.flow_id} {self.due_at} {self.outcome}>"
