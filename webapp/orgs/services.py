"""Organizations, who belongs to them, and in which role.

Functions named add_* put rows in the session for the caller to commit with its own change;
the others commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import url_for
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select

from webapp import audit, tenancy
from webapp.extensions import db
from webapp.models import AuditEvent, Invite, Membership, Organization, Role, User
from webapp.models.common import utcnow

INVITE_LIFETIME = timedelta(days=7)
AUDIT_PAGE_SIZE = 50


class MembershipError(ValueError):
    """A change to an organization's members that is not allowed; the message says why."""


class InviteInvalid(ValueError):
    """The invite link is unknown, used, revoked or expired, or made for another email."""


@dataclass(frozen=True)
class AddResult:
    """What inviting a member by email made: the invite and its one-time link token."""

    invite: Invite
    token: str  # the invite's one-time token; never stored in clear


def add_organization(user: User, name: str) -> Organization:
    """Add an organization with the person as its admin."""
    organization = Organization(name=name.strip())
    db.session.add(organization)
    db.session.add(Membership(user=user, organization=organization, role=Role.ADMIN))
    db.session.flush()
    audit.record("org.created", f"Created the organization {organization.name}",
                 organization_id=organization.id, target=organization, actor_id=user.id)
    return organization


def create_organization(user: User, name: str) -> Organization:
    """Create an organization administered by the person and make it their active one."""
    organization = add_organization(user, name)
    db.session.commit()
    tenancy.activate(organization.id)
    return organization


def switch(user: User, organization_id: int) -> Organization | None:
    """Make one of the person's organizations the active one; None if they are not in it."""
    for membership in user.memberships:
        if membership.organization_id == organization_id:
            tenancy.activate(organization_id)
            return membership.organization
    return None


def members() -> list[Membership]:
    """Return the active organization's members, admins first, then by name."""
    query = (tenancy.scoped(Membership).join(Membership.user)
             .order_by(Membership.role, func.lower(User.name), User.id))
    return list(db.session.scalars(query))


def pending_invites() -> list[Invite]:
    """Return the active organization's invites that can still be accepted."""
    query = (tenancy.scoped(Invite)
             .where(Invite.accepted_at.is_(None), Invite.expires_at > utcnow())
             .order_by(Invite.created_at.desc()))
    return list(db.session.scalars(query))


def _admin_count(organization_id: int) -> int:
    return db.session.scalar(
        select(func.count(Membership.id)).where(
            Membership.organization_id == organization_id, Membership.role == Role.ADMIN)
    )


def _parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise MembershipError("Choose a role: admin or member.") from None


def _label(user: User) -> str:
    return f"{user.name} ({user.email})"


def add_member(organization: Organization, email: str, role: str,
               actor: User) -> AddResult:
    """Invite a person by email: a one-time link, also shown to an account of that email.

    Nobody joins without accepting, and the answer is the same whether the email has an
    account or not.
    """
    role = _parse_role(role)
    email = email.strip().lower()
    already = db.session.scalar(
        select(Membership.id).join(Membership.user)
        .where(Membership.organization_id == organization.id, User.email == email))
    if already is not None:
        raise MembershipError(f"{email} is already a member of {organization.name}.")
    return _invite(organization, email, role, actor)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _invite(organization: Organization, email: str, role: Role, actor: User) -> AddResult:
    """Make an invite link; a newer invite for the same email replaces older ones."""
    for old in db.session.scalars(select(Invite).where(
            Invite.organization_id == organization.id, Invite.email == email,
            Invite.accepted_at.is_(None))):
        db.session.delete(old)
    token = secrets.token_urlsafe(32)
    invite = Invite(organization_id=organization.id, email=email, role=role,
                    token_hash=_hash_token(token), created_by_id=actor.id,
                    expires_at=utcnow() + INVITE_LIFETIME)
    db.session.add(invite)
    db.session.flush()
    audit.record("member.invited", f"Invited {email} as {role.value}",
                 organization_id=organization.id, target=invite,
                 email=email, role=role.value, expires_at=invite.expires_at.isoformat())
    db.session.commit()
    return AddResult(invite=invite, token=token)


def find_invite(token: str) -> Invite | None:
    """Return the invite a token opens, if it can still be accepted."""
    invite = db.session.scalar(select(Invite).where(Invite.token_hash == _hash_token(token)))
    if invite is None or invite.accepted_at is not None or invite.expires_at <= utcnow():
        return None
    return invite


def invitations_for(user: User) -> list[Invite]:
    """Return the invitations made for the person's email that can still be accepted."""
    return list(db.session.scalars(
        select(Invite).where(Invite.email == user.email, Invite.accepted_at.is_(None),
                             Invite.expires_at > utcnow())
        .order_by(Invite.created_at.desc())))


def open_invitations() -> int:
    """Return how many open invitations the signed-in person has (for the page banner)."""
    from flask_login import current_user

    if not current_user.is_authenticated:
        return 0
    return db.session.scalar(select(func.count(Invite.id)).where(
        Invite.email == current_user.email, Invite.accepted_at.is_(None),
        Invite.expires_at > utcnow())) or 0


def invitation_for(user: User, invite_id: int) -> Invite | None:
    """Return one of the person's open invitations, by id; None when it is not theirs."""
    return next((i for i in invitations_for(user) if i.id == invite_id), None)


def decline_invite(invite: Invite, user: User) -> None:
    """Refuse an invitation: it is deleted and its link stops working."""
    audit.record("invite.declined", f"{_label(user)} declined the invite",
                 organization_id=invite.organization_id, target=invite, actor_id=user.id,
                 email=invite.email)
    db.session.delete(invite)
    db.session.commit()


def add_invited_member(invite: Invite, user: User) -> Membership:
    """Use up an invite: the person joins its organization in the invited role."""
    if user.email != invite.email:
        raise InviteInvalid()
    invite.accepted_at = utcnow()
    membership = next((m for m in user.memberships
                       if m.organization_id == invite.organization_id), None)
    if membership is None:
        membership = Membership(user=user, organization_id=invite.organization_id,
                                role=invite.role)
        db.session.add(membership)
        db.session.flush()
        audit.record("member.joined", f"{_label(user)} accepted an invite as {invite.role}",
                     organization_id=invite.organization_id, target=membership,
                     actor_id=user.id, email=user.email, role=str(invite.role))
    return membership


def accept_invite(invite: Invite, user: User) -> Membership:
    """Join the invite's organization with an existing account and make it active."""
    membership = add_invited_member(invite, user)
    db.session.commit()
    tenancy.activate(invite.organization_id)
    return membership


def revoke_invite(invite: Invite) -> None:
    """Delete an invite so its link no longer works."""
    audit.record("invite.revoked", f"Revoked the invite for {invite.email}",
                 organization_id=invite.organization_id, target=invite, email=invite.email)
    db.session.delete(invite)
    db.session.commit()


def _refuse_last_admin(membership: Membership, doing: str) -> None:
    if membership.is_admin and _admin_count(membership.organization_id) <= 1:
        raise MembershipError(
            f"{membership.user.name} is the last admin of {membership.organization.name} "
            f"and cannot be {doing}. Make another member an admin first."
        )


def change_role(membership: Membership, role: str) -> bool:
    """Give a member another role; False when it already had it."""
    new_role = _parse_role(role)
    old_role = Role(membership.role)
    if new_role == old_role:
        return False
    if new_role != Role.ADMIN:
        _refuse_last_admin(membership, "demoted")
    membership.role = new_role
    audit.record("member.role_changed",
                 f"Changed {_label(membership.user)} from {old_role.value} to {new_role.value}",
                 organization_id=membership.organization_id, target=membership,
                 email=membership.user.email, old_role=old_role.value, role=new_role.value)
    db.session.commit()
    return True


def remove_member(membership: Membership) -> None:
    """Take a person out of the organization (their account stays)."""
    _refuse_last_admin(membership, "removed")
    user = membership.user
    audit.record("member.removed", f"Removed {_label(user)}",
                 organization_id=membership.organization_id, target=membership,
                 email=user.email, role=str(membership.role))
    db.session.delete(membership)
    db.session.commit()
    db.session.refresh(user)


def audit_page(page: int) -> Pagination:
    """Return one page of the active organization's audit log, newest first."""
    query = tenancy.scoped(AuditEvent).order_by(AuditEvent.created_at.desc(),
                                                AuditEvent.id.desc())
    return db.paginate(query, page=page, per_page=AUDIT_PAGE_SIZE, error_out=False)


def is_admin_of(user: User, organization_id: int) -> bool:
    """Tell, from the database, whether the person is an admin of the organization."""
    return db.session.scalar(select(Membership.id).where(
        Membership.user_id == user.id, Membership.organization_id == organization_id,
        Membership.role == Role.ADMIN)) is not None


def home_url(user: User) -> str:
    """Return where a person starts: the app, or creating an organization if they have none."""
    return url_for("main.index" if user.memberships else "orgs.new")
