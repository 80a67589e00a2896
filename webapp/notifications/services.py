"""The work behind the Notifications page: choices, webhooks, the delivery log, invitations."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from webapp import audit, crypto, jobs, tenancy
from webapp.connections.egress import egress_problem
from webapp.extensions import db
from webapp.models import Invite, User
from webapp.models.notifications import (
    Delivery,
    EventKind,
    NotificationChoice,
    Webhook,
)
from webapp.notifications import delivery, events, mail

EVENTS = tuple(EventKind)


def set_choices(user: User, organization_id: int, chosen: Iterable[str]) -> set[str]:
    """Store which events a person receives by email; the caller commits."""
    wanted = sorted({c for c in chosen if c in {str(k) for k in EventKind}})
    row = db.session.scalar(select(NotificationChoice).where(
        NotificationChoice.user_id == user.id,
        NotificationChoice.organization_id == organization_id))
    if row is None:
        row = NotificationChoice(user_id=user.id, organization_id=organization_id)
        db.session.add(row)
    row.events = wanted
    return set(wanted)


def choices(user: User, organization_id: int) -> set[str]:
    """Return the events a person receives by email."""
    return events.choices_of(user.id, organization_id)


def webhooks() -> list[Webhook]:
    """Return the active organization's webhooks."""
    return list(db.session.scalars(tenancy.scoped(Webhook).order_by(Webhook.id)))


def deliveries(limit: int = 50) -> list[Delivery]:
    """Return the active organization's latest deliveries, newest first."""
    return events.pending_deliveries(tenancy.current_org().id, limit)


def url_error(url: str) -> str | None:
    """Say what is wrong with a webhook URL, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "Enter the full URL of the endpoint, starting with https://."
    if len(url) > 500:
        return "That URL is too long (500 characters at most)."
    if parts.username or parts.password:
        return "Put no credentials in the URL; every delivery is signed instead."
    if parts.scheme == "http" and not (_loopback(parts.hostname)
                                       or current_app.config["ALLOW_HTTP"]):
        return "Use https:// so deliveries cannot be read on the way."
    return egress_problem(url)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_webhook(url: str, chosen: Iterable[str], user: User) -> tuple[Webhook, str]:
    """Add a webhook; return it and its signing secret, which is shown once."""
    organization = tenancy.current_org()
    secret = "whsec_" + secrets.token_urlsafe(32)
    wanted = sorted({c for c in chosen if c in {str(k) for k in EventKind}})
    hook = Webhook(organization_id=organization.id, url=url,
                   secret_encrypted=crypto.encrypt(secret), events=wanted,
                   created_by_id=user.id)
    db.session.add(hook)
    db.session.flush()
    audit.record("webhook.added", f"Added a webhook to {urlsplit(url).hostname}",
                 organization_id=organization.id, target=hook, events=wanted)
    db.session.commit()
    return hook, secret


def delete_webhook(hook: Webhook) -> None:
    """Delete a webhook and its delivery log."""
    audit.record("webhook.deleted", f"Deleted the webhook to {urlsplit(hook.url).hostname}",
                 organization_id=hook.organization_id, target=hook)
    db.session.delete(hook)
    db.session.commit()


def email_invite(invite: Invite, link: str, inviter: User) -> bool:
    """Email an invitation link when a mail server is configured; tell whether it was sent."""
    if not mail.configured():
        return False
    record = Delivery(organization_id=invite.organization_id, channel="email",
                      recipient=invite.email,
                      subject=f"You are invited to {invite.organization.name} on SDM"[:300])
    db.session.add(record)
    db.session.commit()
    try:
        jobs.runner().submit(delivery.INVITE_KIND, organization_id=invite.organization_id,
                             delivery_id=record.id, link=crypto.encrypt(link),
                             inviter=inviter.name, organization=invite.organization.name)
    except jobs.JobsUnavailable:
        db.session.delete(record)
        db.session.commit()
        return False
    return True
