"""Roles: any member creates and views connections; only admins edit or delete them."""

from __future__ import annotations

from tests.connections.conftest import VALID


def test_member_cannot_edit_or_delete(app, client, people, login, saved):
    login(people.member_id)
    assert client.get(f"/connections/{saved}/edit").status_code == 403
    assert client.post(f"/connections/{saved}", data={**VALID, "name": "Renamed"}
                       ).status_code == 403
    assert client.get(f"/connections/{saved}/delete").status_code == 403
    assert client.post(f"/connections/{saved}/delete").status_code == 403

    from webapp.extensions import db
    from webapp.models import Connection

    with app.app_context():
        connection = db.session.get(Connection, saved)
        assert connection is not None
        assert connection.name == VALID["name"]


def test_member_is_not_offered_edit_or_delete(client, people, login, saved):
    login(people.member_id)
    for url in ("/connections/", f"/connections/{saved}"):
        body = client.get(url).get_data(as_text=True)
        assert VALID["name"] in body
        assert f"/connections/{saved}/edit" not in body
        assert f"/connections/{saved}/delete" not in body


def test_admin_is_offered_edit_and_delete(client, people, login, saved):
    login(people.admin_id)
    for url in ("/connections/", f"/connections/{saved}"):
        body = client.get(url).get_data(as_text=True)
        assert f"/connections/{saved}/edit" in body
        assert f"/connections/{saved}/delete" in body


def test_member_can_create_and_view(client, people, login, create):
    login(people.member_id)
    response = create(name="Member's connection")
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Member&#39;s connection" in body
    assert "Max Member" in body


def test_delete_asks_for_confirmation_then_deletes(app, client, people, login, saved):
    login(people.admin_id)
    confirm = client.get(f"/connections/{saved}/delete")
    assert confirm.status_code == 200
    body = confirm.get_data(as_text=True)
    assert f"Delete “{VALID['name']}”?" in body
    assert f'action="/connections/{saved}/delete"' in body

    response = client.post(f"/connections/{saved}/delete")
    assert response.status_code == 303
    assert f"Connection “{VALID['name']}” deleted." in client.get("/connections/").get_data(
        as_text=True)
    assert client.get(f"/connections/{saved}").status_code == 404
