"""The home page and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, send_from_directory, url_for
from flask_login import current_user
from sqlalchemy import text

from webapp import jobs
from webapp.extensions import db
from webapp.htmx import HX_REQUEST
from webapp.tenancy import current_membership

bp = Blueprint("main", __name__)


@bp.after_app_request
def vary_on_htmx(response):
    """Pages and fragments share URLs; the HX-Request header picks one, so caches must key on it."""
    response.vary.add(HX_REQUEST)
    return response

@bp.get("/")
def index():
    """Send a person to their organization's connections, or to sign in or set one up."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_membership() is None:
        return redirect(url_for("orgs.new"))
    return redirect(url_for("connections.index"))


@bp.get("/favicon.ico")
def favicon():
    """Serve the icon to browsers that ask for it at the conventional address."""
    return send_from_directory(current_app.static_folder, "favicon.svg",
                               mimetype="image/svg+xml", max_age=86400)


@bp.get("/healthz")
def healthz():
    """Say whether the database and the configured job backend answer (503 when not)."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        db.session.rollback()
        database = "unreachable"
    try:
        jobs.runner().check()
        backend = "ok"
    except jobs.JobsUnavailable:
        backend = "unavailable"
    ok = database == "ok" and backend == "ok"
    return jsonify(status="ok" if ok else "error", database=database, jobs=backend), \
        200 if ok else 503
