"""The active organization, and the one helper every organization-scoped query goes through."""

from __future__ import annotations

from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, g, session
from flask_login import current_user, login_required
from sqlalchemy import Select, select

from webapp.extensions import db
from webapp.models import Membership, Organization

M = TypeVar("M")

SESSION_KEY = "org_id"


def current_membership() -> Membership | None:
    """Return the signed-in person's membership in the active organization."""
    if "membership" not in g:
        g.membership = _load_membership()
    return g.membership


def _load_membership() -> Membership | None:
    if not current_user.is_authenticated:
        return None
    memberships = sorted(current_user.memberships, key=lambda m: m.id)
    wanted = session.get(SESSION_KEY)
    for membership in memberships:
        if membership.organization_id == wanted:
            return membership
    if memberships:
        session[SESSION_KEY] = memberships[0].organization_id
        return memberships[0]
    return None


def current_org() -> Organization:
    """Return the active organization; 404 when the person belongs to none."""
    membership = current_membership()
    if membership is None:
        abort(404)
    return membership.organization


def activate(organization_id: int) -> None:
    """Make an organization the active one for this browser session."""
    session[SESSION_KEY] = organization_id
    g.pop("membership", None)


def scoped(model: type[M]) -> Select[tuple[M]]:
    """Select rows of an organization-owned model, limited to the active organization."""
    return select(model).where(model.organization_id == current_org().id)


def get_or_404(model: type[M], ident: Any) -> M:
    """Load one organization-owned row; 404 for a missing row and for another org's row."""
    obj = db.session.scalar(scoped(model).where(model.id == ident))
    if obj is None:
        abort(404)
    return obj


def is_admin() -> bool:
    membership = current_membership()
    return membership is not None and membership.is_admin


def admin_required(view):
    """Refuse a view with 403 unless the person is an admin of the active organization."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not is_admin():
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def members_only(blueprint: Blueprint) -> None:
    """Open every view of a blueprint only to signed-in members of an organization."""

    @blueprint.before_request
    @login_required
    def require_member():
        current_org()  # 404 for a person who belongs to no organization
