"""Sign-up by email confirmation: the answer never tells whether an address has an account.

Whoever submits the sign-up form gets the same page, "Check your email". A new address is
sent a link that sets the account up (signed and time-limited, its content encrypted: it
carries the chosen password's hash); an address that has an account is sent a note that
someone tried to sign up with it. Both branches hash the password and send one message, so
they also take about as long.

Without a mail server (SDM_SMTP_HOST unset, as in the embedded demo) the message is written
to the server log instead, for the operator to read; in demo mode the page says so.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from webapp import crypto
from webapp.auth import services
from webapp.notifications import mail

log = logging.getLogger(__name__)
LINK_HOURS = 24
SALT = "sdm-signup-confirmation"


class LinkExpired(ValueError):
    """The link is older than LINK_HOURS."""


class LinkInvalid(ValueError):
    """The link was not made by this SDM (or was cut short)."""


@dataclass(frozen=True)
class PendingAccount:
    """What a confirmation link sets up."""

    name: str
    email: str
    password_hash: str
    organization: str  # the organization to create, or (with `invite`) the one to join
    invite: str = ""  # the invite link's token, when the account joins through an invite


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(pending: PendingAccount) -> str:
    """Return the link's token: signed and dated, its content encrypted."""
    content = json.dumps({"n": pending.name, "e": pending.email, "h": pending.password_hash,
                          "o": pending.organization, "i": pending.invite},
                         separators=(",", ":"))
    return _serializer().dumps(crypto.encrypt(content))


def read_token(token: str) -> PendingAccount:
    """Return what a link sets up; raise LinkExpired or LinkInvalid."""
    try:
        sealed = _serializer().loads(token, max_age=LINK_HOURS * 3600)
        content = json.loads(crypto.decrypt(sealed))
        return PendingAccount(name=content["n"], email=content["e"],
                              password_hash=content["h"], organization=content["o"],
                              invite=content.get("i") or "")
    except SignatureExpired:
        raise LinkExpired(token) from None
    except (BadSignature, crypto.SecretUnreadable, ValueError, KeyError, TypeError):
        raise LinkInvalid(token) from None


def deliver(to: str, subject: str, body: str) -> None:
    """Send a message through the configured mail server, or write it to the server log."""
    if not mail.configured():
        log.warning("No mail server is configured (SDM_SMTP_HOST), so this message to %s is "
                    "written here instead.\nSubject: %s\n\n%s", to, subject, body)
        return
    try:
        mail.send(to, subject, body)
    except mail.MailFailed as failed:  # the page cannot say so without telling who exists
        log.error("A sign-up email to %s could not be sent: %s", to, failed)


def _link(path: str) -> str:
    """Return a link on SDM's configured address (SDM_APP_URL), never the request's Host."""
    return current_app.config["APP_URL"].rstrip("/") + path


def request_account(name: str, email: str, password: str, organization: str) -> None:
    """Answer a sign-up: a confirmation link for a new address, a note for a taken one."""
    email = services.normalise_email(email)
    password_hash = services.hash_password(password)  # both branches pay for it
    if services.find_user(email) is not None:
        deliver(email, "Someone tried to sign up to SDM with your address", (
            "Someone (perhaps you) tried to create an SDM account with this email address, "
            "which already has one. Nothing was changed.\n\n"
            f"To sign in, go to {_link(url_for('auth.login'))}\n\n"
            "If it was not you, you can ignore this message."))
        return
    token = make_token(PendingAccount(name=name.strip(), email=email,
                                      password_hash=password_hash,
                                      organization=organization.strip()))
    link = _link(url_for("auth.confirm_signup", token=token))
    deliver(email, "Finish signing up to SDM", (
        f"Hello {name.strip()},\n\nTo finish creating your SDM account and the organization "
        f"“{organization.strip()}”, open this link (it works for {LINK_HOURS} hours):\n\n"
        f"{link}\n\nIf you did not sign up, ignore this message: no account is made."))


def request_invited_account(name: str, password: str, invite, invite_token: str) -> None:
    """Answer a sign-up through an invite the same way, whether or not its email has an
    account: a link that sets the account up and joins, or a note to sign in instead."""
    email = services.normalise_email(invite.email)
    organization = invite.organization.name
    password_hash = services.hash_password(password)  # both branches pay for it
    if services.find_user(email) is not None:
        deliver(email, f"Your invitation to {organization} on SDM", (
            f"Someone (perhaps you) tried to create an SDM account through an invitation to "
            f"join {organization}, but this address already has one. Nothing was changed.\n\n"
            f"Sign in at {_link(url_for('auth.login'))} and accept the invitation under "
            "Invitations.\n\nIf it was not you, you can ignore this message."))
        return
    token = make_token(PendingAccount(name=name.strip(), email=email,
                                      password_hash=password_hash,
                                      organization=organization, invite=invite_token))
    link = _link(url_for("auth.confirm_signup", token=token))
    deliver(email, f"Finish joining {organization} on SDM", (
        f"Hello {name.strip()},\n\nTo finish creating your SDM account and join "
        f"{organization}, open this link (it works for {LINK_HOURS} hours):\n\n{link}\n\n"
        "If you did not ask for this, ignore this message: no account is made."))
