"""Routes of the Notifications page: what each person receives, webhooks, the delivery log.

GET  /notifications/                       notifications.index
POST /notifications/choices                notifications.save_choices
POST /notifications/webhooks               notifications.add_webhook    (admins)
POST /notifications/webhooks/<id>/delete   notifications.delete_webhook (admins)
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import current_user
from htmx_flask import request

from webapp import crypto
from webapp.inputs import checks_fields, control_problem, without_control
from webapp.models.notifications import Webhook
from webapp.notifications import delivery, mail, services  # noqa: F401 - job handlers
from webapp.tenancy import admin_required, current_org, get_or_404, is_admin, members_only

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
SECRET_KEY = "webhook_secret"

members_only(bp)


def _page(errors: dict | None = None, url: str = "", status: int = 200):
    organization = current_org()
    sealed = session.pop(SECRET_KEY, None)
    return render_template(
        "notifications/index.html", organization=organization, kinds=services.EVENTS,
        chosen=services.choices(current_user, organization.id), mail=mail.configured(),
        webhooks=services.webhooks(), deliveries=services.deliveries() if is_admin() else [],
        new_secret=crypto.decrypt(sealed) if sealed else None, errors=errors or {},
        url=url), status


@bp.get("/")
def index():
    """Show what this person receives, the webhooks and the delivery log."""
    return _page()


@bp.post("/choices")
def save_choices():
    """Store which events this person receives by email."""
    from webapp.extensions import db

    services.set_choices(current_user, current_org().id, request.form.getlist("events"))
    db.session.commit()
    flash("Your notification choices are saved.", "success")
    return redirect(url_for(".index"), 303)


@bp.post("/webhooks")
@checks_fields("url")
@admin_required
def add_webhook():
    """Add a webhook; its signing secret is shown once."""
    typed = request.form.get("url") or ""
    url = without_control(typed).strip()
    error = control_problem(typed) or services.url_error(url)
    chosen = request.form.getlist("events")
    if not error and not chosen:
        error = "Choose at least one event to send."
    if error:
        return _page({"url": error}, url, 422)
    hook, secret = services.add_webhook(url, chosen, current_user)
    session[SECRET_KEY] = crypto.encrypt(secret)  # shown once, never stored in plain text
    flash(f"Webhook added. Deliveries to {hook.url} are signed with the secret below.",
          "success")
    return redirect(url_for(".index"), 303)


@bp.post("/webhooks/<int:webhook_id>/delete")
@admin_required
def delete_webhook(webhook_id: int):
    """Delete a webhook."""
    services.delete_webhook(get_or_404(Webhook, webhook_id))
    flash("Webhook deleted.", "success")
    return redirect(url_for(".index"), 303)
