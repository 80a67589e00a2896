"""Accounts: creating them, checking passwords, and loading the signed-in person."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db, login
from webapp.models import Invite, Organization, User
from webapp.orgs import services as orgs

DEFAULT_HASH_METHOD = "scrypt"


class EmailTaken(ValueError):
    """An account with this email address already exists."""

    message = ("No new account can be made with this email address. If it is yours, sign in "
               "instead.")


@login.user_loader
def load_user(user_id: str) -> User | None:
    """Return the person a session cookie names, if that session has not been ended."""
    account, _, generation = str(user_id).partition(".")
    try:
        user = db.session.get(User, int(account))
        # A bare id is a cookie from before generations were kept: generation 0.
        wanted = int(generation or 0)
    except (TypeError, ValueError, OverflowError):
        return None
    if user is None or (user.session_generation or 0) != wanted:
        return None
    return user


def normalise_email(email: str) -> str:
    """Return the form every email address is stored and compared in."""
    return email.strip().lower()


def find_user(email: str) -> User | None:
    """Return the account with this email address, if any."""
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def hash_password(password: str) -> str:
    """Return a salted hash of a password (scrypt unless configured otherwise)."""
    method = current_app.config.get("PASSWORD_HASH_METHOD") or DEFAULT_HASH_METHOD
    return generate_password_hash(password, method=method)


@cache
def _decoy_hash(method: str) -> str:
    return generate_password_hash("not a password", method=method)


def authenticate(email: str, password: str) -> User | None:
    """Return the account when the email and password match, else None."""
    user = find_user(email)
    if user is None:
        # Spend the same time as a real check, so timing does not reveal which emails exist.
        method = current_app.config.get("PASSWORD_HASH_METHOD") or DEFAULT_HASH_METHOD
        check_password_hash(_decoy_hash(method), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def new_user(name: str, email: str, password: str | None = None, *,
             password_hash: str | None = None) -> User:
    """Add a new account to the session; refuse an email address that is taken."""
    email = normalise_email(email)
    if find_user(email) is not None:
        raise EmailTaken(email)
    user = User(name=name.strip(), email=email,
                password_hash=password_hash or hash_password(password or ""))
    db.session.add(user)
    return user


def create_account(name: str, email: str, password: str | None, organization_name: str, *,
                   password_hash: str | None = None) -> tuple[User, Organization]:
    """Create an account with its own organization, which it administers (from a password,
    or from its hash when a sign-up link sets the account up)."""
    with _unless_taken(email):
        user = new_user(name, email, password, password_hash=password_hash)
        db.session.flush()
        organization = orgs.add_organization(user, organization_name)
    return user, organization


@contextmanager
def _unless_taken(email: str) -> Iterator[None]:
    """Make an account and commit it; a unique-email clash with a concurrent sign-up (at
    flush or at commit) becomes EmailTaken, and nothing of the block is kept."""
    try:
        yield
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise EmailTaken(email) from None


def create_invited_account(name: str, password: str | None, invite: Invite, *,
                           password_hash: str | None = None) -> User:
    """Create an account for an invite's email address and accept the invite with it."""
    with _unless_taken(invite.email):
        user = new_user(name, invite.email, password, password_hash=password_hash)
        db.session.flush()
        orgs.add_invited_member(invite, user)
    return user


def safe_next(target: str | None) -> str | None:
    """Return a local path to go to after signing in; None for anything off-site."""
    if not target:
        return None
    target = target.strip()
    if any(ord(ch) < 0x20 for ch in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
