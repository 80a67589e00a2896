"""Routes of the auth area: sign up, sign in, sign out, password change, accepting an invite."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from htmx_flask import request

from webapp.auth import confirmation, services
from webapp.auth.forms import ChangePasswordForm, InviteSignupForm, LoginForm, SignupForm
from webapp.auth.sessions import end_everywhere, end_others, start
from webapp.auth.throttle import password_change_throttled, signup_throttled, throttled
from webapp.inputs import checks_fields
from webapp.notifications import mail
from webapp.orgs import services as orgs

bp = Blueprint("auth", __name__)


@bp.get("/signup")
def signup():
    """Show the sign-up form (a signed-in person goes home)."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    return render_template("auth/signup.html", form=SignupForm())


@bp.post("/signup")
@checks_fields("name", "email", "password", "confirm", "organization")
@signup_throttled
def create_account():
    """Check the sign-up form and email a link that finishes it."""
    form = SignupForm()
    if not form.validate():
        return render_template("auth/signup.html", form=form), 422
    confirmation.request_account(form.name.data, form.email.data, form.password.data,
                           form.organization.data)
    return render_template("auth/signup_sent.html", email=form.email.data,
                           hours=confirmation.LINK_HOURS, demo=current_app.config["DEMO"],
                           mail_configured=mail.configured())


@bp.get("/signup/confirm/<token>")
def confirm_signup(token: str):
    """Show what an emailed sign-up link will set up, for a press to confirm."""
    pending, problem = _pending(token)
    if problem:
        return problem
    return render_template("auth/signup_confirm.html", pending=pending, token=token)


@bp.post("/signup/confirm/<token>")
def finish_signup(token: str):
    """Set up the account (and its organization) an emailed link stands for."""
    pending, problem = _pending(token)
    if problem:
        return problem
    if pending.invite:
        return _finish_invited(pending)
    user, organization = services.create_account(
        pending.name, pending.email, None, pending.organization,
        password_hash=pending.password_hash)
    start(user)
    flash(f"Welcome, {user.name}. You are the admin of {organization.name}.", "success")
    return redirect(url_for("main.index"), 303)


def _finish_invited(pending):
    """Set up an account that joins through an invite, if the invite still holds."""
    found = orgs.find_invite(pending.invite)
    if found is None or found.email != pending.email:
        return render_template("auth/invite_invalid.html"), 404
    user = services.create_invited_account(pending.name, None, found,
                                           password_hash=pending.password_hash)
    start(user)
    orgs.switch(user, found.organization_id)
    flash(f"Welcome, {user.name}. You joined {found.organization.name}.", "success")
    return redirect(url_for("main.index"), 303)


def _pending(token: str):
    """Return (what the link sets up, None), or (None, the answer for a link that cannot)."""
    try:
        pending = confirmation.read_token(token)
    except confirmation.LinkExpired:
        return None, (render_template("auth/signup_invalid.html", expired=True,
                                      hours=confirmation.LINK_HOURS), 410)
    except confirmation.LinkInvalid:
        return None, (render_template("auth/signup_invalid.html", expired=False,
                                      hours=confirmation.LINK_HOURS), 404)
    if services.find_user(pending.email) is not None:
        return None, _already_set_up()
    if pending.invite and orgs.find_invite(pending.invite) is None:
        return None, (render_template("auth/invite_invalid.html"), 404)
    return pending, None


@bp.errorhandler(services.EmailTaken)
def email_taken(_error: services.EmailTaken):
    """Answer a sign-up whose email got its account meanwhile: it was set up already."""
    return _already_set_up()


def _already_set_up():
    """Answer a link whose account exists (it was used already): sign in instead."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"), 303)
    flash("This sign-up link was used already: your account is set up. Sign in.", "info")
    return redirect(url_for("auth.login"), 303)


@bp.get("/login")
def login():
    """Show the sign-in form (a signed-in person goes home)."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm(data={"next": services.safe_next(request.args.get("next"))})
    return render_template("auth/login.html", form=form)


@bp.post("/login")
@throttled
@checks_fields("email", "password")
def authenticate():
    """Sign in with an email and password."""
    form = LoginForm()
    if not form.validate():
        return render_template("auth/login.html", form=form), 422
    user = services.authenticate(form.email.data, form.password.data)
    if user is None:
        form.password.errors.append("The email or password is not right. Try again.")
        return render_template("auth/login.html", form=form), 422
    start(user)
    return redirect(services.safe_next(form.next.data) or orgs.home_url(user), 303)


@bp.post("/logout")
def logout():
    """Sign out, ending every session of the account."""
    if current_user.is_authenticated:
        end_everywhere(current_user)
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"), 303)


@bp.get("/account/password")
@login_required
def change_password():
    """Show the change-password form."""
    return render_template("auth/change_password.html", form=ChangePasswordForm())


@bp.post("/account/password")
@checks_fields("current", "password", "confirm")
@login_required
@password_change_throttled
def save_password():
    """Change the password and sign out every other session."""
    form = ChangePasswordForm()
    form.account_email, form.account_name = current_user.email, current_user.name
    if not form.validate():
        return render_template("auth/change_password.html", form=form), 422
    if services.authenticate(current_user.email, form.current.data) is None:
        form.current.errors.append("That is not your current password. Try again.")
        return render_template("auth/change_password.html", form=form), 422
    user = current_user._get_current_object()
    user.password_hash = services.hash_password(form.password.data)
    end_others(user)
    flash("Your password is changed. Every other session of your account is signed out.",
          "success")
    return redirect(url_for("main.index"), 303)


@bp.get("/invite/<token>")
def invite(token: str):
    """Show an invitation: who invites, to which organization, and a sign-up form."""
    found = orgs.find_invite(token)
    if found is None:
        return render_template("auth/invite_invalid.html"), 404
    return _invite_page(found, token, InviteSignupForm())


@bp.post("/invite/<token>")
@checks_fields("name", "password", "confirm")
def accept_invite(token: str):
    """Accept an invitation: join as the signed-in person, or sign up to join."""
    found = orgs.find_invite(token)
    if found is None:
        return render_template("auth/invite_invalid.html"), 404
    if current_user.is_authenticated:
        return _join(found, token)
    form = InviteSignupForm()
    form.invite_email = found.email
    if not form.validate():
        return _invite_page(found, token, form, 422)
    # Whoever holds the link (the admin too) learns nothing about the email's account: the
    # answer is "check your email" either way.
    confirmation.request_invited_account(form.name.data, form.password.data, found, token)
    return render_template("auth/signup_sent.html", email=found.email,
                           joining=found.organization.name, hours=confirmation.LINK_HOURS,
                           demo=current_app.config["DEMO"], mail_configured=mail.configured())


def _invite_page(found, token: str, form: InviteSignupForm, status: int = 200):
    form.invite_email = found.email
    return render_template("auth/invite.html", invite=found, token=token, form=form), status


def _join(found, token: str):
    """Accept an invite with the signed-in account, if the invite was made for its email."""
    if current_user.email != found.email:
        return _invite_page(found, token, InviteSignupForm(), 403)
    orgs.accept_invite(found, current_user)
    flash(f"You joined {found.organization.name} as {found.role}.", "success")
    return redirect(url_for("main.index"), 303)
