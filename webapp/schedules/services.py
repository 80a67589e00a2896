"""Reading and changing a flow's schedule, and saying when it runs next in words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from webapp import audit
from webapp.extensions import db
from webapp.models import Cadence, Flow, Schedule, User
from webapp.models.common import utcnow
from webapp.models.schedules import DEFAULT_TIMEZONE
from webapp.schedules.timing import (
    MAX_EVERY_DAYS,
    MIN_EVERY_DAYS,
    Timing,
    parse_at,
    valid_timezone,
)

DEFAULT_AT = "02:00"


@dataclass(frozen=True)
class ScheduleValues:
    """What a schedule form says, read and checked."""

    cadence: Cadence
    every_days: int
    at: str
    timezone: str
    paused: bool


def timing(schedule: Schedule) -> Timing:
    """Return the arithmetic of a schedule."""
    every = schedule.every_days if schedule.cadence == Cadence.EVERY else 1
    return Timing(parse_at(schedule.at), schedule.timezone, every, schedule.starts_on)


def schedule_of(flow: Flow) -> Schedule | None:
    """Return a flow's schedule, if one was ever set."""
    return db.session.scalar(select(Schedule).where(Schedule.flow_id == flow.id))


def read_form(form: Mapping[str, Any]) -> tuple[ScheduleValues | None, dict[str, str]]:
    """Read a schedule form; return the values, or errors per field."""
    errors: dict[str, str] = {}
    raw_cadence = (form.get("cadence") or Cadence.OFF).strip()
    cadence = raw_cadence if raw_cadence in tuple(Cadence) else None
    if cadence is None:
        errors["cadence"] = "Choose Off, Daily or Every few days."
    every = 1
    if cadence == Cadence.EVERY:
        raw_every = (form.get("every_days") or "").strip()
        every = int(raw_every) if raw_every.isdigit() else 0
        if not MIN_EVERY_DAYS <= every <= MAX_EVERY_DAYS:
            errors["every_days"] = (f"Enter a number of days from {MIN_EVERY_DAYS} to "
                                    f"{MAX_EVERY_DAYS}.")
    at = (form.get("at") or DEFAULT_AT).strip()
    if parse_at(at) is None:
        errors["at"] = "Enter a time as HH:MM, for example 02:00."
    zone = (form.get("timezone") or DEFAULT_TIMEZONE).strip()
    if not valid_timezone(zone):
        errors["timezone"] = (f"“{zone[:64]}” is not a time zone we know; use a name such as "
                              "Europe/Warsaw or America/New_York.")
    if errors:
        return None, errors
    paused = str(form.get("paused") or "").lower() in ("1", "on", "true", "yes")
    return ScheduleValues(Cadence(cadence), every, parse_at(at).strftime("%H:%M"), zone,
                          paused), {}


def save(flow: Flow, values: ScheduleValues, user: User | None) -> Schedule:
    """Store a flow's schedule and its next due time; the caller commits."""
    schedule = schedule_of(flow)
    if schedule is None:
        schedule = Schedule(organization_id=flow.organization_id, flow_id=flow.id)
        db.session.add(schedule)
    today = utcnow().replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(values.timezone))
    if (schedule.cadence != values.cadence or schedule.every_days != values.every_days
            or schedule.starts_on is None):
        schedule.starts_on = today.date()  # every N days counts from the day it was set
    schedule.cadence = values.cadence
    schedule.every_days = values.every_days
    schedule.at = values.at
    schedule.timezone = values.timezone
    schedule.paused = values.paused
    schedule.updated_by_id = user.id if user else None
    reschedule(schedule)
    audit.record("flow.scheduled", f"Set the schedule of flow {flow.name}: "
                 f"{summary(schedule)}", organization_id=flow.organization_id, target=flow,
                 actor_id=user.id if user else None)
    return schedule


def reschedule(schedule: Schedule, now: datetime | None = None) -> None:
    """Set a schedule's next due time after now (none while off or paused)."""
    schedule.next_run_at = timing(schedule).next_after(now or utcnow()) \
        if schedule.active else None


def summary(schedule: Schedule) -> str:
    """Say a schedule in a few words: "Every 3 days at 02:00 (Europe/Warsaw), paused"."""
    if schedule.cadence == Cadence.OFF:
        return "Off"
    every = "Daily" if schedule.cadence == Cadence.DAILY else f"Every {schedule.every_days} days"
    return f"{every} at {schedule.at} ({schedule.timezone}){', paused' if schedule.paused else ''}"
