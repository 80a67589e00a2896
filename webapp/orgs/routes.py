"""Routes of the orgs area: switching, creating, members and roles, the audit log."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    session,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required
from htmx_flask import request

from webapp import crypto
from webapp.extensions import db
from webapp.htmx import go
from webapp.inputs import checks_fields, page_number
from webapp.models import Invite, Membership
from webapp.models.common import utcnow
from webapp.notifications import services as notifications
from webapp.orgs import services, views
from webapp.orgs.forms import AddMemberForm, OrganizationForm
from webapp.tenancy import admin_required, current_org, get_or_404, is_admin

bp = Blueprint("orgs", __name__, url_prefix="/orgs")

INVITE_LINK_KEY = "invite_link"


@bp.before_request
@login_required
def signed_in():
    """Every page of this area needs a signed-in person."""


@bp.post("/<int:org_id>/switch")
def switch(org_id: int):
    """Make another of the person's organizations the active one."""
    organization = services.switch(current_user, org_id)
    if organization is None:
        abort(404)
    flash(f"You are now working in {organization.name}.", "info")
    return redirect(url_for("main.index"), 303)


@bp.get("/new")
def new():
    """Show the new-organization form."""
    return render_template("orgs/new.html", form=OrganizationForm())


@bp.post("/new")
@checks_fields("name")
def create():
    """Create an organization, administered by its creator."""
    form = OrganizationForm()
    if not form.validate():
        return render_template("orgs/new.html", form=form), 422
    organization = services.create_organization(current_user, form.name.data)
    flash(f"Created {organization.name}. You are its admin.", "success")
    return redirect(url_for("main.index"), 303)


@bp.get("/members")
def members():
    """List the organization's members and open invitations."""
    return _members_page(AddMemberForm())


def _members_page(form: AddMemberForm, status: int = 200):
    sealed = session.pop(INVITE_LINK_KEY, None)
    invite_email, invite_link = crypto.decrypt(sealed).split(" ", 1) if sealed else (None, None)
    return render_template(
        "orgs/members.html", organization=current_org(), members=services.members(),
        invites=services.pending_invites() if is_admin() else [], form=form,
        invite_email=invite_email, invite_link=invite_link,
    ), status


@bp.post("/members")
@admin_required
@checks_fields("email", "role")
def add_member():
    """Add a member by email, or invite an address that has no account yet."""
    form = AddMemberForm()
    if not form.validate():
        return _members_page(form, 422)
    try:
        result = services.add_member(current_org(), form.email.data, form.role.data,
                                     current_user)
    except services.MembershipError as error:
        form.email.errors.append(str(error))
        return _members_page(form, 422)
    # The link is a credential: it waits encrypted in the session and is shown once.
    link = url_for("auth.invite", token=result.token, _external=True)
    session[INVITE_LINK_KEY] = crypto.encrypt(f"{result.invite.email} {link}")
    if notifications.email_invite(result.invite, link, current_user):
        flash(f"We emailed the invitation to {result.invite.email}.", "success")
    return redirect(url_for("orgs.members"), 303)


@bp.post("/members/<int:membership_id>/role")
def change_role(membership_id: int):
    """Change a member's role."""
    membership = get_or_404(Membership, membership_id)
    _require_admin()
    changed = services.change_role(membership, request.form.get("role", ""))
    role = "an admin" if membership.is_admin else "a member"
    message = f"{membership.user.name} is now {role}." if changed else None
    return _member_changed(membership, membership.organization_id, message, "success")


@bp.post("/members/<int:membership_id>/remove")
def remove_member(membership_id: int):
    """Remove a member from the organization."""
    membership = get_or_404(Membership, membership_id)
    _require_admin()
    name, organization = membership.user.name, membership.organization
    services.remove_member(membership)
    message = f"Removed {name} from {organization.name}."
    return _member_changed(None, organization.id, message, "success")


def _require_admin() -> None:
    # Checked after the lookup, so another organization's rows answer 404, never 403.
    if not is_admin():
        abort(403)


@bp.errorhandler(services.MembershipError)
def membership_refused(error: services.MembershipError):
    """Say why a role change or removal was refused, on the member's row (or the page)."""
    db.session.rollback()
    membership = get_or_404(Membership, (request.view_args or {}).get("membership_id"))
    return _member_changed(membership, membership.organization_id, str(error), "error")


def _member_changed(membership: Membership | None, organization_id: int,
                    message: str | None, category: str):
    """Answer a role change or removal: the updated row for htmx, else back to the page."""
    lost_admin = not services.is_admin_of(current_user, organization_id)
    if lost_admin or not request.htmx:
        if message:
            flash(message, category)
        return go(services.home_url(current_user) if lost_admin else url_for("orgs.members"))
    return render_template("orgs/_member_change.html", m=membership, message=message,
                           category=category)


@bp.post("/invites/<int:invite_id>/revoke")
def revoke_invite(invite_id: int):
    """Revoke an invitation that has not been accepted."""
    invite = get_or_404(Invite, invite_id)
    _require_admin()
    email = invite.email
    services.revoke_invite(invite)
    flash(f"Revoked the invite for {email}; its link no longer works.", "success")
    return redirect(url_for("orgs.members"), 303)


@bp.get("/invitations")
def invitations():
    """List the invitations waiting for the signed-in person."""
    return render_template("orgs/invitations.html",
                           invitations=services.invitations_for(current_user))


@bp.post("/invitations/<int:invite_id>/accept")
def accept_invitation(invite_id: int):
    """Join the organization an invitation is for."""
    invite = services.invitation_for(current_user, invite_id)
    if invite is None:
        abort(404)
    services.accept_invite(invite, current_user)
    flash(f"You joined {invite.organization.name} as {invite.role}.", "success")
    return redirect(url_for("main.index"), 303)


@bp.post("/invitations/<int:invite_id>/decline")
def decline_invitation(invite_id: int):
    """Decline an invitation."""
    invite = services.invitation_for(current_user, invite_id)
    if invite is None:
        abort(404)
    name = invite.organization.name
    services.decline_invite(invite, current_user)
    flash(f"You declined the invitation to {name}.", "info")
    return redirect(url_for("orgs.invitations"), 303)


@bp.get("/audit")
@admin_required
def audit():
    """Show the audit log, a page at a time, narrowed by action, person and connection."""
    filters = views.Filters.from_args(request.args)
    number = page_number()
    events = views.page(filters, number)
    return render_template("orgs/audit.html", organization=current_org(), events=events,
                           rows=views.grouped(list(events.items)), filters=filters,
                           choices=views.choices())


@bp.get("/audit.csv")
@admin_required
def audit_csv():
    """Download the audit log, with the filters shown, as CSV."""
    filters = views.Filters.from_args(request.args)
    name = f"sdm-audit-{current_org().id}-{utcnow():%Y%m%d-%H%M}.csv"
    return Response(stream_with_context(views.csv_lines(filters)),
                    mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
