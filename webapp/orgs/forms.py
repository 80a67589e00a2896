"""Forms of the orgs area."""

from __future__ import annotations

from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from webapp.auth.forms import Form, email_field, organization_field
from webapp.models import Role

ROLE_CHOICES = [SelectChoice(Role.MEMBER.value, "Member"), SelectChoice(Role.ADMIN.value, "Admin")]


class OrganizationForm(Form):
    name = organization_field()


class AddMemberForm(Form):
    email = email_field("Email address")
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.MEMBER.value,
                       validate_choice=True)
