"""One place that turns errors into pages, or into small alert fragments for htmx."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_wtf.csrf import CSRFError
from htmx_flask import request
from werkzeug.exceptions import HTTPException

from webapp.extensions import db
from webapp.htmx import HX_REQUEST, to_alerts, trigger
from webapp.inputs import FIELD_MESSAGE, FieldRefused
from webapp.jobs import JobsUnavailable

bp = Blueprint("errors", __name__)

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have permission to do that. Ask an admin of this organization.",
    404: "There is nothing here. It may have been deleted, or it belongs to another "
         "organization.",
    405: "That action is not allowed here.",
    413: "That is more than SDM accepts in one request. Send less and try again.",
    429: "Too many requests. Wait a few minutes and try again.",
    500: "Something went wrong on our side. The error has been logged.",
}


def _render(status: int, message: str, events: dict | None = None):
    template = "errors/_alert.html" if request.htmx else "errors/error.html"
    response = render_template(template, status=status, message=message)
    headers = {"Vary": HX_REQUEST}
    if request.htmx:
        # Show the alert even when the trigger's target would not accept an error swap.
        headers.update(to_alerts())
        if events:
            headers.update(trigger(events))
    return response, status, headers


@bp.app_errorhandler(CSRFError)
def csrf_error(error: CSRFError):
    return _render(400, "Your session form token is missing or expired. Reload the page "
                        "and try again.")


@bp.app_errorhandler(JobsUnavailable)
def jobs_unavailable(error: JobsUnavailable):
    """Say that background work cannot start now; nothing was started."""
    return _render(503, error.public_message)


@bp.app_errorhandler(FieldRefused)
def field_refused(error: FieldRefused):
    """Refuse a field's value: the alert names the field, the form marks it (static/app.js)."""
    events = {"field-refused": {"field": error.field, "message": FIELD_MESSAGE}}
    return _render(400, error.description, events if error.field else None)


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    if error.response is not None:
        return error.response  # a complete answer made where the error was raised
    # A view that aborts with its own description says something more specific.
    own = error.description if error.description != type(error).description else None
    return _render(error.code or 500, own or MESSAGES.get(error.code, error.description))


@bp.app_errorhandler(Exception)
def unhandled(error: Exception):
    """Log an unexpected error and answer 500, after rolling back what the request began."""
    if current_app.testing:
        raise error
    current_app.logger.exception("unhandled error")
    # The page around the message reads the database (the menu, the organization): a session
    # left mid-transaction by the failure would fail that too, and a 500 would become a crash.
    db.session.rollback()
    return _render(500, MESSAGES[500])
