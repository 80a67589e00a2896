"""Sign-in throttling: failed attempts per account and per address, with a clear wait."""

from __future__ import annotations

import time

from flask import Flask, Response, render_template, request
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address

from webapp.extensions import limiter

# A failed sign-in answers 422; only those count, so a person who gets it right is not slowed.
ACCOUNT_LIMIT = "10 per 15 minutes"
ADDRESS_LIMIT = "50 per 15 minutes"
# Refused sign-ups per address: each costs a password hash and could probe which emails exist.
SIGNUP_LIMIT = "10 per hour"
# Sign-up messages to one email address, whoever asks: nobody's mailbox is flooded.
SIGNUP_EMAILS_LIMIT = "5 per hour"


def init_app(app: Flask) -> None:
    """Keep counts in Redis when SDM runs on Redis, so every process shares them."""
    if app.config["JOBS"] == "rq":
        app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    else:
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "sdm-limits")
    limiter.init_app(app)


def account_key() -> str:
    """Key failures by the email address typed, normalised as accounts store it."""
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def address_key() -> str:
    """Key failures by the address the request came from (behind ProxyFix: the client's)."""
    return "address:" + (get_remote_address() or "unknown")


def failed(response: Response) -> bool:
    """Tell whether a sign-in attempt failed (and so counts)."""
    return response.status_code == 422


def too_many(limit: RequestLimit) -> Response:
    """Answer 429 with the sign-in page saying how long to wait."""
    from webapp.auth.forms import LoginForm

    form = LoginForm()
    form.password.errors = [
        f"Too many failed sign-ins for this account or from this address. Try again in "
        f"{_minutes(limit)}."]
    body = render_template("auth/login.html", form=form)
    return Response(body, 429, {"Retry-After": str(_seconds(limit))})


def answered(response: Response) -> bool:
    """Tell whether a sign-up was answered with "Check your email" (a message was sent)."""
    return response.status_code == 200


def signup_throttled(view):
    """Limit refused sign-ups per address, and messages sent to one email address."""
    view = limiter.limit(SIGNUP_EMAILS_LIMIT, key_func=account_key, deduct_when=answered,
                         on_breach=too_many_signups)(view)
    return limiter.limit(SIGNUP_LIMIT, key_func=address_key, deduct_when=failed,
                         on_breach=too_many_signups)(view)


def too_many_signups(limit: RequestLimit) -> Response:
    """Answer 429 with the sign-up page saying how long to wait."""
    from webapp.auth.forms import SignupForm

    form = SignupForm()
    form.email.errors = [f"Too many sign-ups from this network address or to this email "
                         f"address. Try again in {_minutes(limit)}."]
    return Response(render_template("auth/signup.html", form=form), 429,
                    {"Retry-After": str(_seconds(limit))})


def _seconds(limit: RequestLimit) -> int:
    """Return the wait in whole minutes, as seconds (the window's end is rounded to seconds)."""
    return max(1, round((limit.reset_at - time.time()) / 60)) * 60


def _minutes(limit: RequestLimit) -> str:
    minutes = _seconds(limit) // 60
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def throttled(view):
    """Limit failed sign-ins per account and per address."""
    view = limiter.limit(ACCOUNT_LIMIT, key_func=account_key, deduct_when=failed,
                         on_breach=too_many)(view)
    return limiter.limit(ADDRESS_LIMIT, key_func=address_key, deduct_when=failed,
                         on_breach=too_many)(view)


def user_key() -> str:
    """Key failed password changes by the signed-in account."""
    from flask_login import current_user

    return f"password-change:{current_user.get_id().partition('.')[0]}"


def too_many_password_changes(limit: RequestLimit) -> Response:
    """Answer 429 with the change-password page saying how long to wait."""
    from webapp.auth.forms import ChangePasswordForm

    form = ChangePasswordForm()
    form.current.errors = [f"Too many failed attempts. Try again in {_minutes(limit)}."]
    return Response(render_template("auth/change_password.html", form=form), 429,
                    {"Retry-After": str(_seconds(limit))})


def password_change_throttled(view):
    """Limit failed password changes per account and per address, as sign-ins are."""
    view = limiter.limit(ACCOUNT_LIMIT, key_func=user_key, deduct_when=failed,
                         on_breach=too_many_password_changes)(view)
    return limiter.limit(ADDRESS_LIMIT, key_func=address_key, deduct_when=failed,
                         on_breach=too_many_password_changes)(view)
