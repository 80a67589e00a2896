"""NUL and other control characters typed into a form: the form again, the field marked.

The person sees the message next to the field that holds the character, with the rest of
what they typed kept; nothing is stored.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.inputs import FIELD_MESSAGE
from webapp.models import Connection, Organization, User

MESSAGE = html.escape(FIELD_MESSAGE, quote=False)


def error_of(page: str, field_id: str) -> str | None:
    """Return the inline message shown for a field, if any."""
    found = re.search(rf'<small id="{re.escape(field_id)}-error"[^>]*>([^<]*)</small>', page)
    return html.unescape(found.group(1)) if found else None


def value_of(page: str, field_id: str) -> str | None:
    tag = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', page)
    found = tag and re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(found.group(1)) if found else None


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x7f"])
def test_sign_up_marks_the_field_and_keeps_the_rest(client, app, character):
    response = client.post("/signup", data={
        "name": "Ada Admin", "email": "ada@example.com", "password": PASSWORD,
        "confirm": PASSWORD, "organization": f"Springfield{character} District"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, "organization") == FIELD_MESSAGE
    assert error_of(page, "name") is None
    assert value_of(page, "name") == "Ada Admin"
    assert value_of(page, "email") == "ada@example.com"
    assert value_of(page, "organization") == "Springfield District"  # shown without it
    assert character not in page
    assert count(app, User) == 0 and count(app, Organization) == 0


def test_sign_in_marks_the_email_field(client):
    response = client.post("/login", data={"email": "ada\x00@example.com", "password": "x"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, "email") == FIELD_MESSAGE
    assert value_of(page, "email") == "ada@example.com"


def test_a_new_organization_marks_its_name(auth, client, app):
    auth.signup()
    response = client.post("/orgs/new", data={"name": "Shelby\x00ville"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, "name") == FIELD_MESSAGE
    assert count(app, Organization) == 1


def test_adding_a_member_marks_the_email(auth, client):
    auth.signup()
    response = client.post("/orgs/members", data={"email": "max\x00@example.com",
                                                  "role": "member"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, "email") == FIELD_MESSAGE


CONNECTION = {
    "name": "Springfield SIS", "provider": "custom",
    "base_url": "https://sis.example.org/ims/oneroster/rostering/v1p2",
    "client_id": "sdm-client", "client_secret": "s3cret", "auth_url": "https://sis.example.org/token",
    "proxy_country": "", "oneroster_version": "1.2", "auth_method": "oauth2_basic", "scopes": "",
}


@pytest.mark.parametrize("field", ["name", "client_id", "client_secret", "base_url"])
def test_the_connection_form_marks_the_field(auth, client, app, field):
    auth.signup()
    data = {**CONNECTION, field: CONNECTION[field][:3] + "\x00" + CONNECTION[field][3:]}
    response = client.post("/connections/", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, f"connection-form-{field}") == FIELD_MESSAGE
    if field != "name":
        assert value_of(page, "connection-form-name") == "Springfield SIS"
    assert "\x00" not in page
    assert count(app, Connection) == 0


def test_testing_unsaved_values_marks_the_field(auth, client):
    auth.signup()
    response = client.post("/connections/test", data={**CONNECTION, "client_id": "sdm\x00"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, "connection-form-client_id") == FIELD_MESSAGE


def test_a_query_or_a_field_name_with_one_is_still_refused_before_any_view(auth, client):
    auth.signup()
    assert client.get("/connections/?q=a%00b").status_code == 400
    response = client.post("/connections/", data={**CONNECTION, "na\x00me": "x"})
    assert response.status_code == 400


@pytest.mark.parametrize("field", ["tested_job", "embed", "selector", "slot"])
def test_a_field_the_form_does_not_show_is_refused_before_the_view(auth, client, app, field):
    auth.signup()
    response = client.post("/connections/", data={**CONNECTION, field: "x\x00"})
    assert response.status_code == 400
    assert field in response.get_data(as_text=True)
    assert count(app, Connection) == 0


def test_sign_in_refuses_one_in_the_hidden_next_field(client):
    response = client.post("/login", data={"email": "ada@example.com", "password": "x",
                                           "next": "/flows/\x00"})
    assert response.status_code == 400


def test_a_webhook_url_is_marked_and_no_webhook_is_added(auth, client, app):
    from webapp.models.notifications import Webhook

    auth.signup()
    response = client.post("/notifications/webhooks", data={
        "url": "https://hooks.example.org/s\x00dm", "events": ["run.failed"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, "webhook-url") == FIELD_MESSAGE
    assert value_of(page, "webhook-url") == "https://hooks.example.org/sdm"
    assert "\x00" not in page
    assert count(app, Webhook) == 0


def test_an_htmx_form_is_told_which_field_to_mark(auth, client):
    # Forms sent with htmx keep what was typed: the refusal names the field for the page's
    # script (static/app.js) to mark, and the alert region says which field it is.
    auth.signup()
    response = client.post("/flows/editor", data={"name": "Night\x00ly"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#alerts"
    event = json.loads(response.headers["HX-Trigger"])["field-refused"]
    assert event == {"field": "name", "message": FIELD_MESSAGE}
    assert "“name”" in response.get_data(as_text=True)


def test_a_query_parameter_names_no_field_to_mark(auth, client):
    auth.signup()
    response = client.get("/connections/?q=a%00b", headers={"HX-Request": "true"})
    assert response.status_code == 400 and "HX-Trigger" not in response.headers
