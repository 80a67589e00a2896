"""The embeddable create form and the Connection Selector fragment."""

from __future__ import annotations

import json

from tests.connections.conftest import SECRET, VALID
from webapp.extensions import db
from webapp.models import Connection

EMBED = {"embed": "1", "selector": "source-1-connection", "field": "connection_id",
         "slot": "source-1-connection-new"}


def _ids(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(db.select(Connection.id).order_by(Connection.id)))


def test_the_embeddable_form_is_a_fragment_posting_through_htmx(htmx, people, login):
    login(people.member_id)
    response = htmx.get("/connections/new?embed=1&selector=source-1-connection"
                        "&field=connection_id&slot=source-1-connection-new")
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert body.lstrip().startswith('<form id="source-1-connection-form"')
    assert 'hx-post="/connections/"' in body
    assert 'hx-target="this" hx-swap="outerHTML"' in body
    assert 'name="embed" value="1"' in body
    assert 'name="selector" value="source-1-connection"' in body


def test_the_same_url_loaded_directly_is_a_full_page(client, people, login):
    login(people.member_id)
    body = client.get("/connections/new?embed=1").get_data(as_text=True)
    assert "<html" in body and 'name="embed" value="1"' in body


def test_an_unsafe_selector_id_is_ignored(htmx, people, login):
    login(people.member_id)
    body = htmx.get('/connections/new?embed=1&selector="><script>').get_data(as_text=True)
    assert "<script>" not in body
    assert 'id="connection-form"' in body


def test_an_invalid_embedded_submit_returns_the_fragment_with_errors(app, htmx, people, login):
    login(people.member_id)
    response = htmx.post("/connections/", data={**VALID, **EMBED, "base_url": "ftp://x"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert 'id="source-1-connection-form"' in body
    assert "must start with https://" in body
    assert "HX-Trigger" not in response.headers
    assert SECRET not in body
    assert "enter it again" not in body  # htmx keeps the typed secret in the page
    assert _ids(app) == []


def test_saving_from_a_selector_refreshes_it_with_the_new_connection(app, htmx, people, login,
                                                                     saved):
    login(people.member_id)
    response = htmx.post("/connections/", data={**VALID, **EMBED, "name": "From the wizard"})
    assert response.status_code == 201
    new_id = _ids(app)[-1]
    event = json.loads(response.headers["HX-Trigger"])["connection-created"]
    assert event == {"id": new_id, "name": "From the wizard", "provider": "custom",
                     "status": "configured", "status_label": "Configured"}
    assert response.headers["HX-Retarget"] == "#source-1-connection"
    assert response.headers["HX-Reswap"] == "outerHTML"
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="source-1-connection"')
    assert f'<option value="{new_id}" data-status="configured" selected>' in body
    assert f'<option value="{saved}" data-status="configured">' in body
    assert "“From the wizard” saved and selected" in body
    assert 'hx-swap-oob' not in body  # the form's slot is inside the selector


def test_a_form_slot_outside_the_selector_is_emptied(htmx, people, login):
    login(people.member_id)
    response = htmx.post("/connections/", data={**VALID, **EMBED, "slot": "wizard-slot"})
    assert response.status_code == 201
    assert '<div id="wizard-slot" hx-swap-oob="innerHTML"></div>' in response.get_data(
        as_text=True)


def test_saving_an_embed_without_selector_returns_a_confirmation(app, htmx, people, login):
    login(people.member_id)
    response = htmx.post("/connections/", data={**VALID, "embed": "1"})
    assert response.status_code == 201
    new_id = _ids(app)[-1]
    assert json.loads(response.headers["HX-Trigger"])["connection-created"]["id"] == new_id
    assert "HX-Retarget" not in response.headers
    body = response.get_data(as_text=True)
    assert f'data-connection-id="{new_id}"' in body
    assert "badge-configured" in body


def test_the_selector_lists_connections_with_status_text(app, client, people, login, saved):
    with app.app_context():
        db.session.get(Connection, saved).status = "error"
        db.session.commit()
    login(people.member_id)
    response = client.get(f"/connections/selector?selector=pick&field=source_conn&selected={saved}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body
    assert '<select id="pick-select" name="source_conn"' in body
    assert f'<option value="{saved}" data-status="error" selected>' in body
    assert f"{VALID['name']} (Custom): Error" in body
    assert "Create New Connection" in body
    assert "selector=pick" in body and 'hx-target="#pick-new"' in body


def test_the_selector_keeps_the_current_choice_named_by_its_field(client, people, login, saved):
    login(people.member_id)
    body = client.get(f"/connections/selector?connection_id={saved}").get_data(as_text=True)
    assert f'<option value="{saved}" data-status="configured" selected>' in body


def test_the_selector_macro_renders_inside_another_page(app, people, saved):
    from flask import render_template_string
    from flask_login import login_user

    from webapp.connections import services
    from webapp.models import User

    with app.test_request_context():
        login_user(db.session.get(User, people.admin_id))
        body = render_template_string(
            '{% from "connections/_selector.html" import connection_selector %}'
            '{{ connection_selector(connections, selected=sel, selector_id="s2",'
            ' slot="outside") }}',
            connections=services.list_connections(), sel=saved)
    assert '<div id="s2" class="connection-selector"' in body
    assert 'hx-target="#outside"' in body
    assert 'id="s2-new"' not in body
    assert f'<option value="{saved}" data-status="configured" selected>' in body


def test_an_empty_selector_invites_creating_one(client, people, login):
    login(people.member_id)
    body = client.get("/connections/selector").get_data(as_text=True)
    assert "No saved connections yet" in body
    assert "Create New Connection" in body
