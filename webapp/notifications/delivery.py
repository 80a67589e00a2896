"""Delivering notifications: email and signed webhooks, each retried with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from webapp import crypto, jobs
from webapp.extensions import db
from webapp.models.common import utcnow
from webapp.models.notifications import (
    Delivery,
    DeliveryState,
    NotificationEvent,
    Webhook,
)
from webapp.notifications import mail, pinned

log = logging.getLogger(__name__)

KIND = "notify.deliver"
INVITE_KIND = "notify.invite"
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
           timedelta(hours=1))  # waits before attempts 2..5
MAX_ATTEMPTS = len(BACKOFF) + 1
# A new delivery is handed to a worker at once; if that could not happen (the job backend
# was down), the scheduler hands it over once this much time has passed.
FALLBACK = timedelta(minutes=2)
SIGNATURE_HEADER = "X-SDM-Signature"
TIMESTAMP_HEADER = "X-SDM-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Return the HMAC-SHA256 signature of a webhook body: "sha256=<hex>"."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def dispatch(delivery_ids: list[int]) -> None:
    """Hand deliveries to workers; when jobs cannot start, the next pass retries them."""
    for delivery_id in delivery_ids:
        try:
            jobs.runner().submit(KIND, delivery_id=delivery_id)
        except jobs.JobsUnavailable:
            log.warning("notification %s waits: the job backend is unavailable", delivery_id)
            return


def retry_due(now: datetime | None = None) -> list[int]:
    """Dispatch deliveries whose next attempt is due (each claimed by one scheduler)."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Delivery.id).where(Delivery.state.in_([DeliveryState.PENDING,
                                                      DeliveryState.RETRYING]),
                                  Delivery.next_attempt_at <= now)).all()
    claimed = []
    for delivery_id in due:
        won = db.session.execute(
            update(Delivery).where(Delivery.id == delivery_id, Delivery.next_attempt_at <= now)
            .values(next_attempt_at=None)).rowcount
        db.session.commit()
        if won:
            claimed.append(delivery_id)
    dispatch(claimed)
    return claimed


@jobs.handler(KIND)
def deliver(ctx: jobs.JobContext) -> dict[str, Any]:
    """Make one attempt at a delivery and record how it went."""
    delivery = db.session.get(Delivery, ctx.params["delivery_id"])
    if delivery is None or delivery.state in (DeliveryState.DELIVERED, DeliveryState.FAILED):
        return {"skipped": True}
    delivery.next_attempt_at = None  # this attempt is under way: no fallback hand-over
    db.session.commit()
    event = db.session.get(NotificationEvent, delivery.event_id) if delivery.event_id else None
    try:
        if delivery.channel == "webhook":
            status = _post(delivery, event)
        else:
            status = _mail(delivery.recipient, delivery.subject, email_body(event))
    except DeliveryFailed as exc:
        _failed(delivery, str(exc), exc.status)
    else:
        delivery.attempts += 1
        delivery.state, delivery.last_status = DeliveryState.DELIVERED, status
        delivery.last_error, delivery.delivered_at = None, utcnow()
    db.session.commit()
    return {"state": str(delivery.state), "attempts": delivery.attempts}


class DeliveryFailed(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _failed(delivery: Delivery, reason: str, status: int | None) -> None:
    """Record a failed attempt: retry after the next backoff, or give up after the last."""
    delivery.attempts += 1
    delivery.last_error, delivery.last_status = reason[:500], status
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, None
    else:
        delivery.state = DeliveryState.RETRYING
        delivery.next_attempt_at = utcnow() + BACKOFF[delivery.attempts - 1]


def _mail(to: str, subject: str, body: str) -> int:
    try:
        mail.send(to, subject, body)
    except mail.MailFailed as exc:
        raise DeliveryFailed(str(exc), exc.code) from None
    return 250


def _post(delivery: Delivery, event: NotificationEvent | None) -> int:
    webhook = db.session.get(Webhook, delivery.webhook_id)
    if webhook is None or event is None:
        raise DeliveryFailed("The webhook was deleted.")
    body = json.dumps(webhook_body(event, delivery), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "SDM-Webhooks/1",
               "X-SDM-Event": str(event.kind), "X-SDM-Delivery": str(delivery.id),
               TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: signature(crypto.decrypt(webhook.secret_encrypted),
                                           timestamp, body)}
    try:  # the same egress rules as connections, on the very address connected to
        return pinned.post(webhook.url, body, headers)
    except pinned.Refused as exc:
        raise DeliveryFailed(str(exc), exc.status) from None


def webhook_body(event: NotificationEvent, delivery: Delivery) -> dict[str, Any]:
    """Return the JSON a webhook receives for an event."""
    return {"event": str(event.kind), "id": event.id, "delivery": delivery.id,
            "organization_id": event.organization_id, "title": event.title,
            "created_at": event.created_at.isoformat() + "Z", "data": event.payload}


def email_body(event: NotificationEvent | None) -> str:
    """Return the text of a notification email."""
    if event is None:
        return ""
    link = (event.payload or {}).get("url", "")
    lines = [event.title, ""]
    lines += [str(line) for line in (event.payload or {}).get("details", [])]
    if link:
        lines += ["", f"Open it in SDM: {link}"]
    lines += ["", "You receive this because of your notification choices in SDM; change them "
              "on the organization's Notifications page."]
    return "\n".join(lines)


@jobs.handler(INVITE_KIND)
def send_invite(ctx: jobs.JobContext) -> dict[str, Any]:
    """Email an invitation link (it travels encrypted in the job's parameters)."""
    delivery = db.session.get(Delivery, ctx.params["delivery_id"])
    link = crypto.decrypt(ctx.params["link"])
    body = (f"{ctx.params.get('inviter') or 'An admin'} invited you to join "
            f"{ctx.params.get('organization')} on SDM.\n\nAccept the invitation here (the link "
            f"works once and expires in a few days):\n{link}\n")
    try:
        status = _mail(delivery.recipient, delivery.subject, body)
    except DeliveryFailed as exc:  # the admin still has the link on screen to send by hand
        delivery.attempts += 1
        delivery.state, delivery.last_error, delivery.last_status = (
            DeliveryState.FAILED, str(exc), exc.status)
    else:
        delivery.attempts += 1
        delivery.state, delivery.delivered_at, delivery.last_status = (
            DeliveryState.DELIVERED, utcnow(), status)
    db.session.commit()
    return {"state": str(delivery.state)}


def app_url(path: str) -> str:
    """Return an absolute link into SDM for a message."""
    return current_app.config["APP_URL"].rstrip("/") + path
