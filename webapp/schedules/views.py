"""What the pages show of a flow's schedule: when it runs next, in words, and its form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Cadence, DueRun, DueRunOutcome, Flow, Schedule
from webapp.models.common import utcnow
from webapp.models.schedules import DEFAULT_TIMEZONE
from webapp.schedules.services import DEFAULT_AT, schedule_of, summary
from webapp.schedules.timing import MIN_EVERY_DAYS, in_words, timezone_choices


@dataclass(frozen=True)
class ScheduleView:
    """A flow's schedule as the pages show it."""

    cadence: str
    every_days: int
    at: str
    timezone: str
    paused: bool
    summary: str  # "Daily at 02:00 (Europe/Warsaw)"
    next_run: str | None  # "tonight at 02:00 CET"; None when off or paused
    next_run_at: datetime | None  # UTC
    notes: tuple[str, ...]  # recent skipped or refused due runs, newest first

    @property
    def on(self) -> bool:
        return self.cadence != Cadence.OFF


def view(schedule: Schedule | None, now: datetime | None = None) -> ScheduleView:
    """Return what the pages show of a schedule (an off one when there is none)."""
    now = now or utcnow()
    if schedule is None:
        return ScheduleView(Cadence.OFF, MIN_EVERY_DAYS, DEFAULT_AT, DEFAULT_TIMEZONE, False,
                            "Off", None, None, ())
    next_run = (in_words(schedule.next_run_at, schedule.timezone, now)
                if schedule.active and schedule.next_run_at else None)
    notes = db.session.scalars(
        select(DueRun.note).where(DueRun.flow_id == schedule.flow_id,
                                  DueRun.outcome != DueRunOutcome.STARTED)
        .order_by(DueRun.due_at.desc()).limit(3))
    return ScheduleView(schedule.cadence, max(schedule.every_days, MIN_EVERY_DAYS),
                        schedule.at, schedule.timezone, schedule.paused, summary(schedule),
                        next_run, schedule.next_run_at if next_run else None,
                        tuple(n for n in notes if n))


def views_of(flow_ids: list[int], now: datetime | None = None) -> dict[int, ScheduleView]:
    """Return the schedule view of each flow that has one."""
    if not flow_ids:
        return {}
    rows = db.session.scalars(select(Schedule).where(Schedule.flow_id.in_(flow_ids)))
    return {s.flow_id: view(s, now) for s in rows}


def typed(shown: ScheduleView, form: Mapping[str, Any]) -> ScheduleView:
    """Return a view that shows what was typed, so a refused form keeps every value."""
    return replace(shown, cadence=str(form.get("cadence") or shown.cadence),
                   every_days=str(form.get("every_days") or "")[:4],
                   at=str(form.get("at") or "")[:8], timezone=str(form.get("timezone") or "")[:64],
                   paused=bool(form.get("paused")))


def fragment_context(flow: Flow, *, errors: Mapping[str, str] | None = None,
                     values: Mapping[str, Any] | None = None,
                     saved: bool = False) -> dict[str, Any]:
    """Return what a flow's schedule fragment shows: the stored schedule, or typed values."""
    shown = view(schedule_of(flow))
    if values is not None:
        shown = typed(shown, values)
    return {"flow": flow, "schedule": shown, "errors": dict(errors or {}), "saved": saved,
            "timezones": timezone_choices()}
