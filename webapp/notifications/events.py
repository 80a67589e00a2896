"""Events worth telling people about, found once each, and fanned out to deliveries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Membership, Run, RunStatus, RunTrigger, User
from webapp.models.common import utcnow
from webapp.models.notifications import (
    Delivery,
    DeliveryState,
    EventKind,
    NotificationChoice,
    NotificationEvent,
    Webhook,
)
from webapp.notifications import delivery, mail

LOOK_BACK = timedelta(hours=6)  # runs that ended this recently are looked at for events


def emit(kind: EventKind, subject_key: str, organization_id: int, title: str,
         **payload: Any) -> NotificationEvent | None:
    """Record an event once (None when it was already recorded) and send it out."""
    event = NotificationEvent(kind=kind, subject_key=subject_key, title=title[:300],
                              organization_id=organization_id, payload=payload)
    db.session.add(event)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return None
    deliveries = fan_out(event)
    db.session.commit()
    delivery.dispatch([d.id for d in deliveries])
    return event


def fan_out(event: NotificationEvent) -> list[Delivery]:
    """Add a delivery per person who chose this event and per subscribed webhook."""
    now = utcnow()
    made = []
    if mail.configured():
        for user in recipients(event.organization_id, event.kind):
            made.append(Delivery(organization_id=event.organization_id, event_id=event.id,
                                 channel="email", recipient=user.email,
                                 subject=f"SDM: {event.title}"[:300],
                                 next_attempt_at=now + delivery.FALLBACK, created_at=now))
    hooks = db.session.scalars(select(Webhook).where(
        Webhook.organization_id == event.organization_id, Webhook.active.is_(True)))
    for hook in hooks:
        if str(event.kind) in (hook.events or []):
            made.append(Delivery(organization_id=event.organization_id, event_id=event.id,
                                 channel="webhook", webhook_id=hook.id, recipient=hook.url,
                                 subject=event.title[:300],
                                 next_attempt_at=now + delivery.FALLBACK, created_at=now))
    db.session.add_all(made)
    db.session.flush()
    return made


def choices_of(user_id: int, organization_id: int) -> set[str]:
    """Return the events a person receives by email (every event until they choose)."""
    row = db.session.scalar(select(NotificationChoice).where(
        NotificationChoice.user_id == user_id,
        NotificationChoice.organization_id == organization_id))
    return set(row.events) if row is not None else {str(k) for k in EventKind}


def recipients(organization_id: int, kind: EventKind) -> list[User]:
    """Return the members who receive an event by email."""
    members = db.session.scalars(select(User).join(Membership).where(
        Membership.organization_id == organization_id))
    return [u for u in members if str(kind) in choices_of(u.id, organization_id)]


def scan_runs(now: datetime | None = None) -> list[NotificationEvent]:
    """Find runs that ended recently and are worth telling: failed, warned, recovered."""
    now = now or utcnow()
    ended = db.session.scalars(select(Run).where(
        Run.finished_at >= now - LOOK_BACK,
        Run.status.in_([RunStatus.FAILED, RunStatus.COMPLETED,
                        RunStatus.COMPLETED_WITH_WARNINGS])).order_by(Run.id)).all()
    if not ended:
        return []
    told = set(db.session.scalars(select(NotificationEvent.subject_key).where(
        NotificationEvent.subject_key.in_([f"run:{r.id}" for r in ended]))))
    found = []
    for run in ended:
        if f"run:{run.id}" in told:
            continue
        kind = _run_event(run)
        if kind is not None:
            event = emit(kind, f"run:{run.id}", run.organization_id,
                         _run_title(kind, run), **_run_payload(run))
            if event is not None:
                found.append(event)
    return found


def _run_event(run: Run) -> EventKind | None:
    status = RunStatus(run.status)
    scheduled = run.trigger == RunTrigger.SCHEDULED
    if status == RunStatus.FAILED and scheduled:
        awaiting_retry = (run.attempts or 1) < 2 and (run.error or "").startswith("Interrupted")
        return None if awaiting_retry else EventKind.RUN_FAILED
    if status.succeeded and _previous_failed(run):
        return EventKind.RUN_RECOVERED
    if status == RunStatus.COMPLETED_WITH_WARNINGS and scheduled:
        return EventKind.RUN_WARNINGS
    return None


def _previous_failed(run: Run) -> bool:
    previous = db.session.scalar(select(Run.status).where(
        Run.flow_id == run.flow_id, Run.id < run.id,
        Run.status.in_([RunStatus.FAILED, RunStatus.COMPLETED,
                        RunStatus.COMPLETED_WITH_WARNINGS])).order_by(Run.id.desc()).limit(1))
    return previous == RunStatus.FAILED


def _run_title(kind: EventKind, run: Run) -> str:
    return {EventKind.RUN_FAILED: f"Scheduled run of “{run.flow_name}” failed",
            EventKind.RUN_WARNINGS: f"Scheduled run of “{run.flow_name}” completed with "
                                    "warnings",
            EventKind.RUN_RECOVERED: f"“{run.flow_name}” ran successfully again"}[kind]


def _run_payload(run: Run) -> dict[str, Any]:
    details = [f"Flow: {run.flow_name}", f"Run #{run.id}, {run.trigger}",
               f"Status: {RunStatus(run.status).label}", f"Records: {run.total:,}"]
    if run.error:
        details.append(f"Error: {run.error}")
    return {"flow_id": run.flow_id, "run_id": run.id, "status": str(run.status),
            "trigger": str(run.trigger), "records": run.total, "error": run.error,
            "details": details, "url": delivery.app_url(f"/runs/{run.id}")}


def pending_deliveries(organization_id: int, limit: int = 50) -> list[Delivery]:
    """Return an organization's latest deliveries, newest first, for its delivery log."""
    return list(db.session.scalars(select(Delivery).where(
        Delivery.organization_id == organization_id).order_by(Delivery.id.desc()).limit(limit)))


__all__ = ["DeliveryState", "emit", "pending_deliveries", "scan_runs"]
