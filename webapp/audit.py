"""Write entries to the organization's audit log. Never pass a secret in here."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from webapp.extensions import db
from webapp.models import AuditEvent


def record(
    action: str,
    summary: str,
    *,
    organization_id: int,
    target: Any = None,
    actor_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the session; the caller commits with its own change."""
    if actor_id is None and current_user and current_user.is_authenticated:
        actor_id = current_user.id
    event = AuditEvent(
        organization_id=organization_id,
        actor_id=actor_id,
        action=action,
        summary=summary[:300],
        target_type=type(target).__name__.lower() if target is not None else None,
        target_id=str(target.id) if target is not None else None,
        details=details,
    )
    db.session.add(event)
    return event
