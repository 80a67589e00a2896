"""Provider templates: registered through the plugin hook, pre-filling and explaining."""

from __future__ import annotations

import html
from urllib.parse import urlencode

import pytest

from tests.connections.conftest import VALID
from webapp.extensions import db
from webapp.models import AuthMethod, Connection
from webapp.plugin_api import ProviderTemplate


def _value(body: str, field: str) -> str:
    """Return the value of a text input in the connection form."""
    chunk = body.split(f'name="{field}" value="', 1)[1]
    return html.unescape(chunk.split('"', 1)[0])


def _selected(body: str, field: str) -> str:
    select = body.split(f'name="{field}"', 1)[1].split("</select>", 1)[0]
    return select.split(" selected>", 1)[0].rsplit('value="', 1)[1].split('"', 1)[0]


@pytest.fixture
def demo_template(app):
    """A template like the sandbox's: {app_url} in its URLs and a demo secret."""
    template = ProviderTemplate(
        id="demo-sis", name="Demo SIS", description="A demo district.",
        help=("Everything is filled in for you.",),
        base_url="{app_url}demo/ims/oneroster/rostering/v1p2",
        auth_url="{app_url}demo/oauth/token", client_id="demo", demo_secret="demo-only-secret",
        order=1)
    app.extensions["sdm.plugins"].providers[template.id] = template
    return template


def test_the_builtin_templates_are_registered_in_order(app):
    from webapp.connections import services

    with app.app_context():
        ids = [t.id for t in services.provider_templates()]
    assert {"custom", "librus", "powerschool", "infinite-campus", "classlink",
            "aeries"} <= set(ids)
    assert ids.index("librus") < ids.index("custom")


@pytest.mark.parametrize("provider, version, method, help_text", [
    ("librus", "1.2", AuthMethod.OAUTH2_BASIC, "to each school separately"),
    ("powerschool", "1.2", AuthMethod.OAUTH2_BODY, "Plugin Management"),
    ("infinite-campus", "1.2", AuthMethod.OAUTH2_BASIC, "appName"),
    ("classlink", "1.1", AuthMethod.BEARER, "bearer token"),
    ("aeries", "1.1", AuthMethod.OAUTH2_BASIC, "OneRoster 1.1 only"),
    ("custom", "1.2", AuthMethod.OAUTH2_BASIC, "Manual configuration for any OneRoster API"),
])
def test_a_template_prefills_and_explains(client, people, login, provider, version, method,
                                          help_text):
    login(people.member_id)
    body = client.get(f"/connections/new?provider={provider}").get_data(as_text=True)
    assert _selected(body, "provider") == provider
    assert _selected(body, "oneroster_version") == version
    assert _selected(body, "auth_method") == method.value
    assert help_text in html.unescape(body)


def test_librus_prefills_its_scope(client, people, login):
    login(people.member_id)
    body = client.get("/connections/new?provider=librus").get_data(as_text=True)
    assert _value(body, "scopes").endswith("/v1p2/scope/roster-core.readonly")
    assert "Pre-configured for Librus SIS (Poland)" in body


def test_switching_template_keeps_what_was_typed(htmx, people, login):
    login(people.member_id)
    typed = {"prefilled_from": "custom", "provider": "aeries", "name": "My district",
             "client_id": "typed-id", "base_url": "https://d.aeries.net/aeries/ims/oneroster/v1p1",
             "auth_url": "", "proxy_country": "EU", "oneroster_version": "1.2",
             "auth_method": "oauth2_basic", "scopes": ""}
    response = htmx.get("/connections/new?" + urlencode(typed))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body  # the form fragment, swapped in place
    assert 'id="connection-form"' in body
    assert _value(body, "name") == "My district"
    assert _value(body, "client_id") == "typed-id"
    assert _value(body, "base_url") == typed["base_url"]
    assert _selected(body, "proxy_country") == "EU"
    assert _selected(body, "oneroster_version") == "1.1"  # untouched, so Aeries decides
    assert "OneRoster 1.1 only" in body


def test_switching_keeps_advanced_choices_the_person_changed(htmx, people, login):
    login(people.member_id)
    typed = {"prefilled_from": "custom", "provider": "librus", "name": "", "client_id": "",
             "base_url": "", "auth_url": "", "proxy_country": "", "oneroster_version": "1.1",
             "auth_method": "oauth2_body", "scopes": ""}
    body = htmx.get("/connections/new?" + urlencode(typed)).get_data(as_text=True)
    assert _selected(body, "oneroster_version") == "1.1"
    assert _selected(body, "auth_method") == "oauth2_body"
    assert _value(body, "scopes").endswith("roster-core.readonly")


def test_the_template_switch_never_sends_the_secret(client, people, login):
    login(people.member_id)
    body = client.get("/connections/new").get_data(as_text=True)
    assert 'hx-params="not client_secret,csrf_token"' in body
    assert 'hx-include="closest form"' in body


def test_app_url_is_filled_in_and_the_demo_secret_stays_on_the_server(
        app, client, people, login, demo_template):
    login(people.member_id)
    body = client.get("/connections/new?provider=demo-sis").get_data(as_text=True)
    assert _value(body, "base_url") == "http://localhost/demo/ims/oneroster/rostering/v1p2"
    assert _value(body, "auth_url") == "http://localhost/demo/oauth/token"
    assert _value(body, "client_id") == "demo"
    assert "demo-only-secret" not in body

    response = client.post("/connections/", data={
        **VALID, "provider": "demo-sis", "client_secret": "", "client_id": "demo",
        "base_url": "http://localhost/demo/ims/oneroster/rostering/v1p2", "auth_url": ""})
    assert response.status_code == 303
    from webapp.connections import services

    with app.test_request_context():
        connection = db.session.scalar(db.select(Connection))
        assert connection.provider == "demo-sis"
        settings = services.connection_details(connection, reason="test")
    assert settings.client_secret == "demo-only-secret"
    assert "demo-only-secret" not in client.get(response.headers["Location"]).get_data(
        as_text=True)


def test_a_connection_whose_template_is_gone_can_still_be_edited(app, client, people, login,
                                                                saved):
    login(people.admin_id)
    with app.app_context():
        db.session.get(Connection, saved).provider = "retired"
        db.session.commit()
    body = client.get(f"/connections/{saved}/edit").get_data(as_text=True)
    assert "retired (template no longer installed)" in body
    response = client.post(f"/connections/{saved}",
                           data={**VALID, "provider": "retired", "client_secret": ""})
    assert response.status_code == 303
