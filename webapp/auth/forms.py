"""Forms of the auth area: what a person types to sign up, sign in or accept an invite."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import EmailField, Field, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from webapp.auth.passwords import password_problem
from webapp.inputs import FIELD_MESSAGE, control_problem, without_control

MIN_PASSWORD = 8
MAX_PASSWORD = 128
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


ECHO_MAX = 300  # a typed value is shown back after an error at most this long


def _strip(value: str | None) -> str | None:
    return value.strip()[:ECHO_MAX] if isinstance(value, str) else value


def _lower(value: str | None) -> str | None:
    return value.strip().lower()[:ECHO_MAX] if isinstance(value, str) else value


def email_address(_form: FlaskForm, field: Field) -> None:
    """Refuse text that cannot be an email address."""
    if field.data and not _EMAIL.match(field.data):
        raise ValidationError("Enter an email address like name@school.org.")


class Form(FlaskForm):
    """Base form: CSRFProtect checks every POST already, so forms do not check it twice.

    A field holding a control character (such as NUL) is refused with a message next to it,
    and what is shown back has the character removed.
    """

    class Meta:
        csrf = False

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if any(control_problem(raw) for raw in field.raw_data or () if isinstance(raw, str)):
                field.errors = [FIELD_MESSAGE]
                if isinstance(field.data, str):
                    field.data = without_control(field.data)
                valid = False
        return valid


def email_field(label: str = "Email") -> EmailField:
    """Return the email field every form uses: required, trimmed, lower-cased."""
    return EmailField(label, filters=[_lower], validators=[
        DataRequired("Enter your email address."),
        Length(max=254, message="An email address has at most 254 characters."),
        email_address,
    ])


def name_field() -> StringField:
    """Return the person's name field."""
    return StringField("Your name", filters=[_strip], validators=[
        DataRequired("Enter your name."),
        Length(max=120, message="Use at most 120 characters."),
    ])


def new_password_fields(label: str = "Password") -> tuple[PasswordField, PasswordField]:
    """Return a new password field and its confirmation."""
    password = PasswordField(label, validators=[
        DataRequired("Choose a password."),
        Length(min=MIN_PASSWORD, max=MAX_PASSWORD,
               message=f"Use between {MIN_PASSWORD} and {MAX_PASSWORD} characters."),
    ])
    confirm = PasswordField(f"Confirm {label.lower()}", validators=[
        DataRequired("Type the password again."),
        EqualTo("password", message="The two passwords do not match."),
    ])
    return password, confirm


def organization_field(label: str = "Organization name") -> StringField:
    """Return the organization name field."""
    return StringField(label, filters=[_strip], validators=[
        DataRequired("Enter the name of your school or district."),
        Length(max=120, message="Use at most 120 characters."),
    ])


class NewPasswordForm(Form):
    """A form that chooses a password: refused when it is easy to guess for this person."""

    invite_email = ""  # the email an invite was made for, when the form has no email field

    def validate_password(self, field: Field) -> None:
        email = getattr(getattr(self, "email", None), "data", None) or self.invite_email
        name = getattr(getattr(self, "name", None), "data", None) or ""
        if field.data and (problem := password_problem(field.data, email=email, name=name)):
            raise ValidationError(problem)


class SignupForm(NewPasswordForm):
    name = name_field()
    email = email_field()
    password, confirm = new_password_fields()
    organization = organization_field()


class LoginForm(Form):
    email = email_field()
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    next = HiddenField()


class InviteSignupForm(NewPasswordForm):
    """Sign-up through an invite: the email comes from the invite, not the form."""

    name = name_field()
    password, confirm = new_password_fields()


class ChangePasswordForm(NewPasswordForm):
    """A signed-in person's new password; the current one proves it is them."""

    current = PasswordField("Current password",
                            validators=[DataRequired("Enter your current password.")])
    password, confirm = new_password_fields("New password")
    account_email = ""
    account_name = ""

    def validate_password(self, field: Field) -> None:
        if field.data and (problem := password_problem(field.data, email=self.account_email,
                                                       name=self.account_name)):
            raise ValidationError(problem)
