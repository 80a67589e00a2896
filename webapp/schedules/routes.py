"""Routes of a flow's schedule: the fragment on the flow page and the form that changes it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from htmx_flask import request

from webapp.extensions import db
from webapp.models import Flow
from webapp.schedules import services, views
from webapp.tenancy import get_or_404, members_only

bp = Blueprint("schedules", __name__, url_prefix="/flows/<int:flow_id>/schedule")

members_only(bp)


@bp.get("")
def show(flow_id: int):
    """Show a flow's schedule fragment."""
    flow = get_or_404(Flow, flow_id)
    return render_template("schedules/_schedule.html", **views.fragment_context(flow))


@bp.post("")
def save(flow_id: int):
    """Change when a flow runs on its own."""
    flow = get_or_404(Flow, flow_id)
    values, errors = services.read_form(request.form)
    if errors:
        if not request.htmx:
            flash("The schedule was not saved: " + " ".join(errors.values()), "error")
            return redirect(url_for("flows.show", flow_id=flow.id), 303)
        context = views.fragment_context(flow, errors=errors, values=request.form)
        return render_template("schedules/_schedule.html", **context), 422
    services.save(flow, values, current_user)
    db.session.commit()
    if not request.htmx:
        flash(f"Schedule saved: {views.view(services.schedule_of(flow)).summary}.", "success")
        return redirect(url_for("flows.show", flow_id=flow.id), 303)
    context = views.fragment_context(flow, saved=True)
    return render_template("schedules/_schedule.html", **context)
