"""Connection health: a history of verdicts, a small chart of it, re-tests before runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import or_, select, update

from webapp.extensions import db
from webapp.flows import graph as g
from webapp.models import Connection, Flow, Schedule, Status, TestSummary
from webapp.models.common import utcnow
from webapp.models.notifications import ConnectionCheck, EventKind
from webapp.plugin_api import Checklist, ErrorInfo

HISTORY = 30  # verdicts shown on the connection page
LEAD = timedelta(hours=3)  # how long before a scheduled run its connections are re-tested
CHART_W, CHART_H, GAP = 300, 60, 2


def record(connection: Connection, checklist: Checklist, *, scheduled: bool,
           before: str | None) -> ConnectionCheck:
    """Add a test's verdict to the history; tell people when a working connection fails."""
    ok = checklist.ok
    summary = TestSummary.of(checklist).title
    previous = db.session.scalar(
        select(ConnectionCheck.ok).where(ConnectionCheck.connection_id == connection.id)
        .order_by(ConnectionCheck.id.desc()).limit(1))
    check = ConnectionCheck(organization_id=connection.organization_id,
                            connection_id=connection.id, ok=ok,
                            latency_ms=checklist.elapsed_ms, summary=summary[:300],
                            scheduled=scheduled, checked_at=utcnow())
    db.session.add(check)
    db.session.commit()
    was_working = previous if previous is not None else before == Status.SUCCESS
    if not ok and was_working:
        _tell_failing(connection, check, checklist.error)
    return check


def _tell_failing(connection: Connection, check: ConnectionCheck,
                  error: ErrorInfo | None) -> None:
    from webapp.notifications import delivery, events
    from webapp.schedules.timing import in_words

    details = [f"Connection: {connection.name} ({connection.host})",
               f"Problem: {error.title if error else 'The test failed'}"]
    if error is not None and error.message:
        details.append(error.message)
    details += [f"Advice: {a}" for a in (error.advice if error else ())]
    now = utcnow()
    for flow, schedule in scheduled_flows(connection):
        if schedule.next_run_at:
            when = in_words(schedule.next_run_at, schedule.timezone, now)
            details.append(f"“{flow.name}” runs {when}: fix the connection before then.")
    events.emit(EventKind.CONNECTION_FAILING, f"check:{check.id}", connection.organization_id,
                f"Connection “{connection.name}” started failing its test",
                connection_id=connection.id, error=error.title if error else None,
                details=details,
                url=delivery.app_url(f"/connections/{connection.id}"))


def scheduled_flows(connection: Connection) -> list[tuple[Flow, Schedule]]:
    """Return the flows reading through a connection that have an active schedule."""
    rows = db.session.execute(
        select(Flow, Schedule).join(Schedule, Schedule.flow_id == Flow.id)
        .where(Flow.organization_id == connection.organization_id,
               Schedule.next_run_at.is_not(None))).all()
    return [(flow, schedule) for flow, schedule in rows
            if connection.id in g.connection_ids(flow.graph or {})]


def retest_before_runs(now: datetime | None = None) -> list[int]:
    """Re-test the connections of flows due within LEAD, once per due time; return their ids."""
    from webapp.connections import testing

    now = now or utcnow()
    due = db.session.scalars(select(Schedule).where(
        Schedule.next_run_at.is_not(None), Schedule.next_run_at <= now + LEAD,
        or_(Schedule.health_checked_for.is_(None),
            Schedule.health_checked_for != Schedule.next_run_at))).all()
    tested = []
    for schedule in due:
        claimed = db.session.execute(
            update(Schedule).where(Schedule.id == schedule.id,
                                   Schedule.next_run_at == schedule.next_run_at,
                                   or_(Schedule.health_checked_for.is_(None),
                                       Schedule.health_checked_for != schedule.next_run_at))
            .values(health_checked_for=schedule.next_run_at)).rowcount
        db.session.commit()
        if not claimed:
            continue  # another scheduler has it
        flow = db.session.get(Flow, schedule.flow_id)
        for connection_id in sorted(g.connection_ids(flow.graph or {})):
            connection = db.session.get(Connection, connection_id)
            if connection is None or connection.organization_id != flow.organization_id:
                continue
            testing.start_test(connection, user_id=None,
                               started_by="Scheduled check before the next run",
                               scheduled=True)
            tested.append(connection_id)
    return tested


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    ok: bool
    title: str


@dataclass(frozen=True)
class HealthChart:
    """The last verdicts of a connection, as bars (height: latency) and in words."""

    bars: tuple[Bar, ...]
    checks: tuple[ConnectionCheck, ...]  # oldest first
    width: int
    height: int
    caption: str

    @property
    def empty(self) -> bool:
        return not self.checks


def chart(connection: Connection, limit: int = HISTORY) -> HealthChart:
    """Return the chart of a connection's last verdicts, oldest on the left."""
    checks = list(db.session.scalars(
        select(ConnectionCheck).where(ConnectionCheck.connection_id == connection.id)
        .order_by(ConnectionCheck.id.desc()).limit(limit)))[::-1]
    if not checks:
        return HealthChart((), (), CHART_W, CHART_H, "No tests yet.")
    slowest = max((c.latency_ms or 0) for c in checks) or 1
    width = max(4, (CHART_W - GAP * (limit - 1)) // limit)
    bars = []
    for i, check in enumerate(checks):
        latency = check.latency_ms or 0
        height = max(4, round((CHART_H - 4) * latency / slowest)) if check.ok else CHART_H
        label = (f"{check.checked_at:%Y-%m-%d %H:%M} UTC: {check.summary}"
                 f"{f', {latency:,} ms' if check.latency_ms is not None else ''}"
                 f"{' (scheduled check)' if check.scheduled else ''}")
        bars.append(Bar(i * (width + GAP), CHART_H - height, width, height, check.ok, label))
    passed = sum(c.ok for c in checks)
    latencies = [c.latency_ms for c in checks if c.ok and c.latency_ms is not None]
    caption = (f"Last {len(checks)} test{'s' if len(checks) != 1 else ''}: {passed} passed, "
               f"{len(checks) - passed} failed"
               + (f"; median time {round(median(latencies)):,} ms" if latencies else "")
               + f". Latest: {checks[-1].summary.lower()} on "
                 f"{checks[-1].checked_at:%Y-%m-%d %H:%M} UTC.")
    return HealthChart(tuple(bars), tuple(checks), CHART_W, CHART_H, caption)
