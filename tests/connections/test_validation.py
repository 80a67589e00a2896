"""Validation: specific inline messages, typed values kept, nothing stored."""

from __future__ import annotations

import html

import pytest

from tests.connections.conftest import VALID
from webapp.extensions import db
from webapp.models import AuditEvent, Connection


def _count(app, model=Connection) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def _error_of(body: str, field: str) -> str:
    marker = f'data-field="{field}">'
    assert marker in body, f"no inline error for {field}"
    return html.unescape(body.split(marker, 1)[1].split("</small>", 1)[0])


BAD_BASE_URLS = [
    ("sis.example.org/ims/oneroster/v1p1", "Enter the full Base URL, starting with https://"),
    ("/ims/oneroster/v1p1", "Enter the full Base URL, starting with https://"),
    ("ftp://sis.example.org/ims", "The Base URL must start with https:// (not ftp://)"),
    ("http://sis.example.org/ims/oneroster/v1p1", "Plain http:// is only allowed for this"),
    ("http://10.0.0.5/ims/oneroster/v1p1", "Plain http:// is only allowed for this"),
    ("https://user:pass@sis.example.org/ims", "Remove the user name and password"),
    ("https://token@sis.example.org/ims", "Remove the user name and password"),
    ("https://sis.example.org/ims#part", "cannot contain a fragment"),
    ("https://sis.example.org/ims?x=1", "SDM adds its own query parameters"),
    ("https://sis.example.org:99999/ims", "The port in the Base URL is not a number"),
    ("https://sis.exa mple.org/ims", "cannot contain spaces"),
    ("https://sis.example.org/" + "a" * 500, "Keep the Base URL under 500 characters"),
]


@pytest.mark.parametrize("base_url, message", BAD_BASE_URLS)
def test_bad_base_urls_are_refused_inline(app, people, login, create, base_url, message):
    login(people.admin_id)
    response = create(base_url=base_url)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in _error_of(body, "base_url")
    assert f'value="{html.escape(base_url)}"' in body  # what was typed is kept
    assert f'value="{VALID["name"]}"' in body
    assert _count(app) == 0
    assert _count(app, AuditEvent) == 0


@pytest.mark.parametrize("base_url", [
    "http://127.0.0.1:8000/sandbox/ims/oneroster/rostering/v1p2",
    "http://127.8.9.10/ims/oneroster/v1p1",
    "http://localhost:5000/ims/oneroster/v1p1",
    "http://[::1]:8000/ims/oneroster/v1p1",
    "https://sis.example.org:8443/vendor/ims/oneroster/rostering/v1p2",
])
def test_acceptable_base_urls(app, people, login, create, base_url):
    login(people.admin_id)
    assert create(base_url=base_url).status_code == 303
    assert _count(app) == 1


def test_plain_http_anywhere_when_the_configuration_allows_it(app, people, login, create):
    app.config["ALLOW_HTTP"] = True
    login(people.admin_id)
    assert create(base_url="http://sis.internal/ims/oneroster/v1p1").status_code == 303


@pytest.mark.parametrize("auth_url, message", [
    ("oauth/token", "Enter the full Auth URL"),
    ("https://u:p@sis.example.org/token", "Remove the user name and password from the Auth URL"),
    ("http://sis.example.org/token", "Use https:// for the Auth URL"),
    ("https://sis.example.org/token#x", "the Auth URL cannot contain a fragment"),
])
def test_bad_auth_urls_are_refused_inline(app, people, login, create, auth_url, message):
    login(people.admin_id)
    response = create(auth_url=auth_url)
    assert response.status_code == 422
    assert message in _error_of(response.get_data(as_text=True), "auth_url")
    assert _count(app) == 0


def test_an_auth_url_may_carry_a_query_string(app, people, login, create):
    login(people.admin_id)
    url = "https://ic.example.org/campus/oauth2/token?appName=springfield"
    assert create(auth_url=url).status_code == 303


@pytest.mark.parametrize("field, message", [
    ("name", "Enter a name for this connection."),
    ("base_url", "Enter the Base URL your SIS provider gave you."),
    ("client_id", "Enter the Client ID."),
    ("client_secret", "Enter the Client Secret."),
])
def test_missing_required_fields(app, people, login, create, field, message):
    login(people.admin_id)
    response = create(**{field: "   "})
    assert response.status_code == 422
    assert _error_of(response.get_data(as_text=True), field) == message
    assert _count(app) == 0


def test_a_template_that_issues_token_urls_per_school_requires_the_auth_url(app, people, login,
                                                                             create):
    login(people.admin_id)
    response = create(provider="librus", auth_url="")
    assert response.status_code == 422
    assert "Librus issues a token URL to each school" in _error_of(
        response.get_data(as_text=True), "auth_url")


@pytest.mark.parametrize("field, value, message", [
    ("name", "n" * 101, "Keep the name under 100 characters (it has 101)."),
    ("client_id", "c" * 256, "Keep the Client ID under 255 characters (it has 256)."),
    ("client_secret", "s" * 4001, "Keep the Client Secret under 4000 characters."),
    ("scopes", "s" * 1001, "Keep the scopes under 1000 characters"),
    ("provider", "no-such-template", "Choose a provider template from the list."),
    ("proxy_country", "US", "Choose no proxy, or EU."),
    ("oneroster_version", "1.0", "Choose OneRoster 1.2 or 1.1."),
    ("auth_method", "password", "Choose a client authentication method from the list."),
])
def test_other_field_rules(app, people, login, create, field, value, message):
    login(people.admin_id)
    response = create(**{field: value})
    assert response.status_code == 422
    assert message in _error_of(response.get_data(as_text=True), field)
    assert _count(app) == 0


def test_duplicate_names_are_refused(app, client, people, login, saved, create):
    response = create(name=VALID["name"].upper(), base_url="https://other.example.org/ims")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "is already called" in _error_of(body, "name")
    assert 'value="https://other.example.org/ims"' in body
    assert _count(app) == 1


def test_renaming_onto_another_connection_is_refused(app, client, people, login, saved, create):
    assert create(name="Second").status_code == 303
    with app.app_context():
        second = db.session.scalar(db.select(Connection.id).where(Connection.name == "Second"))
    response = client.post(f"/connections/{second}", data={**VALID, "client_secret": ""})
    assert response.status_code == 422
    assert "is already called" in _error_of(response.get_data(as_text=True), "name")
    # Keeping its own name is fine.
    assert client.post(f"/connections/{second}",
                       data={**VALID, "name": "Second", "client_secret": ""}).status_code == 303


def test_a_refused_edit_changes_nothing(app, client, people, login, saved):
    response = client.post(f"/connections/{saved}",
                           data={**VALID, "name": "New name", "base_url": "nope"})
    assert response.status_code == 422
    with app.app_context():
        assert db.session.get(Connection, saved).name == VALID["name"]
