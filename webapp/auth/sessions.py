"""Sessions that end: a per-account generation in the cookie, idle and absolute lifetimes.

The signed cookie names the account and its session generation ("id.generation"). Signing
out or changing the password moves the generation on, so every cookie issued before, on any
device, no longer loads anyone. Each session also carries when it started and when it was
last used: past SDM_SESSION_IDLE_MINUTES without a request, or SDM_SESSION_HOURS in all,
it ends.
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask, current_app, flash, session
from flask_login import current_user, login_user, logout_user
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.extensions import db
from webapp.models import User

STARTED = "_started"
SEEN = "_seen"
SEEN_EVERY_S = 60  # write the last-seen time at most this often, not on every request


def init_app(app: Flask) -> None:
    """Set the cookie flags, trust the configured proxies and expire sessions per request."""
    https = str(app.config["APP_URL"]).lower().startswith("https://")
    app.config.update(
        SESSION_COOKIE_SECURE=https,
        REMEMBER_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=float(app.config["SESSION_HOURS"])),
    )
    proxies = int(app.config["TRUSTED_PROXIES"] or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,  # type: ignore
                                x_host=proxies, x_port=proxies, x_prefix=proxies)
    app.before_request(expire_session)


def start(user: User) -> None:
    """Sign a person in on a fresh session, so nothing of the previous one carries over."""
    session.clear()
    login_user(user)
    session.permanent = True
    now = int(time.time())
    session[STARTED] = session[SEEN] = now


def end_everywhere(user: User) -> None:
    """End every session of the account, this one included."""
    user.session_generation = (user.session_generation or 0) + 1
    db.session.commit()
    logout_user()
    session.clear()


def end_others(user: User) -> None:
    """End every other session of the account and keep this one signed in."""
    user.session_generation = (user.session_generation or 0) + 1
    db.session.commit()
    start(user)  # a fresh session under the new generation


def expire_session() -> None:
    """Sign out a session that was idle or open for too long; note when it was last used."""
    if not current_user.is_authenticated:
        return
    now = int(time.time())
    started, seen = session.get(STARTED), session.get(SEEN)
    if not isinstance(started, int) or not isinstance(seen, int):
        session[STARTED] = session[SEEN] = now  # a session from before lifetimes were kept
        return
    idle = float(current_app.config["SESSION_IDLE_MINUTES"]) * 60
    absolute = float(current_app.config["SESSION_HOURS"]) * 3600
    if now - seen > idle or now - started > absolute:
        logout_user()
        session.clear()
        flash("Your session ended. Sign in again to continue.", "info")
        return
    if now - seen >= SEEN_EVERY_S:
        session[SEEN] = now
