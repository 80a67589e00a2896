"""Tenancy: another organization's connections answer 404 on every route."""

from __future__ import annotations

import pytest

from tests.connections.conftest import VALID


def _id_routes(app) -> list[tuple[str, str]]:
    """Every (method, rule) of the connections area that takes a connection id."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("connections.") and "connection_id" in rule.arguments:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((method, rule.rule))
    return routes


def test_the_connection_routes_taking_an_id_are_all_found(app):
    found = {(method, rule) for method, rule in _id_routes(app)}
    assert {("GET", "/connections/<int:connection_id>"),
            ("GET", "/connections/<int:connection_id>/edit"),
            ("POST", "/connections/<int:connection_id>"),
            ("GET", "/connections/<int:connection_id>/delete"),
            ("POST", "/connections/<int:connection_id>/delete")} <= found


@pytest.mark.parametrize("as_htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("outsider_role", ["admin", "member"])
def test_every_route_answers_404_to_another_organization(app, client, people, login, saved,
                                                         as_htmx, outsider_role):
    from webapp.extensions import db
    from webapp.models import Membership

    if outsider_role == "member":
        with app.app_context():
            membership = db.session.scalar(
                db.select(Membership).where(Membership.user_id == people.outsider_id))
            membership.role = "member"
            db.session.commit()
    login(people.outsider_id)
    headers = {"HX-Request": "true"} if as_htmx else {}
    for method, rule in _id_routes(app):
        url = rule.replace("<int:connection_id>", str(saved))
        response = client.open(url, method=method, data={**VALID, "name": "Stolen"},
                               headers=headers)
        assert response.status_code == 404, (method, url, response.status_code)
        assert VALID["base_url"] not in response.get_data(as_text=True)

    login(people.admin_id)
    response = client.get(f"/connections/{saved}")
    assert response.status_code == 200
    assert "Stolen" not in response.get_data(as_text=True)


def test_list_and_selector_show_only_the_active_organization(client, people, login, saved):
    login(people.outsider_id)
    for url in ("/connections/", "/connections/selector"):
        body = client.get(url).get_data(as_text=True)
        assert VALID["name"] not in body
        assert f'value="{saved}"' not in body
    assert "No connections yet" in client.get("/connections/").get_data(as_text=True)


def test_the_same_name_is_free_in_another_organization(app, client, people, login, saved,
                                                       create):
    login(people.outsider_id)
    assert create().status_code == 303
    from webapp.extensions import db
    from webapp.models import Connection

    with app.app_context():
        owners = db.session.scalars(db.select(Connection.organization_id)).all()
    assert sorted(owners) == sorted([people.org_id, people.other_org_id])


def test_signed_out_visitors_are_sent_to_sign_in(client, saved):
    with client.session_transaction() as session:
        session.clear()
    for url in ("/connections/", f"/connections/{saved}", "/connections/new"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
