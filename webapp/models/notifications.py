"""Notifications: what happened, who hears of it by email, webhooks, and every delivery."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.common import utcnow


class EventKind(enum.StrEnum):
    RUN_FAILED = "run.failed"  # a scheduled run failed
    RUN_WARNINGS = "run.warnings"  # a scheduled run completed with warnings
    RUN_RECOVERED = "run.recovered"  # a run succeeded after the flow's last run failed
    CONNECTION_FAILING = "connection.failing"  # a connection's test failed after passing

    @property
    def label(self) -> str:
        return EVENT_LABELS[self]


EVENT_LABELS = {
    EventKind.RUN_FAILED: "A scheduled run failed",
    EventKind.RUN_WARNINGS: "A scheduled run completed with warnings",
    EventKind.RUN_RECOVERED: "A flow ran successfully again after a failure",
    EventKind.CONNECTION_FAILING: "A connection started failing its test",
}


class NotificationEvent(db.Model):
    """Something worth telling people about; the unique key lets it be told once."""

    __tablename__ = "notification_events"
    __table_args__ = (UniqueConstraint("kind", "subject_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[EventKind] = mapped_column(String(32))
    subject_key: Mapped[str] = mapped_column(String(64))  # e.g. "run:42", "check:7"
    title: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # never a secret
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class NotificationChoice(db.Model):
    """Which events one person receives by email from one organization."""

    __tablename__ = "notification_choices"
    __table_args__ = (UniqueConstraint("user_id", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    events: Mapped[list[str]] = mapped_column(JSON, default=list)


class Webhook(db.Model):
    """An organization's endpoint that receives events as signed JSON."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(500))
    # The signing secret, a Fernet token written and read only through webapp.crypto.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last attempt

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Delivery(db.Model):
    """One attempt-tracked message: an email to a person, or a POST to a webhook."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_events.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # "email" | "webhook"
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(300))  # an address, or the webhook's URL
    subject: Mapped[str] = mapped_column(String(300))
    state: Mapped[DeliveryState] = mapped_column(String(16), default=DeliveryState.PENDING,
                                                 index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)  # HTTP status or SMTP code
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    delivered_at: Mapped[datetime | None]


class ConnectionCheck(db.Model):
    """One verdict in a connection's health history, with how long the test took."""

    __tablename__ = "connection_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    ok: Mapped[bool] = mapped_column(Boolean)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(300), default="")
    scheduled: Mapped[bool] = mapped_column(Boolean, default=False)  # a pre-run re-test
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
