"""Every state-changing rule refuses a request without this session's form token."""

from __future__ import annotations

import re

import pytest

from tests.security.matrix import method_of, rules, url_of
from tests.security.world import build

REFUSED = "form token is missing or expired"


@pytest.fixture
def world(app):
    world = build(app)
    app.config["WTF_CSRF_ENABLED"] = True  # built without tokens; attacked with them on
    return world


def _token_of(client) -> str:
    page = client.get("/connections/new").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _changing(app):
    return [r for r in rules(app) if method_of(r) != "GET"]


def test_state_changing_rules_are_found(app):
    assert len(_changing(app)) >= 40  # every POST of the app, discovered from the URL map


@pytest.mark.parametrize("how", ["no token", "another session's token", "HX-Request alone"])
def test_every_state_changing_rule_refuses_a_forged_request(world, how):
    admin = world.clients["admin"]
    stolen = _token_of(world.clients["other"])
    accepted = []
    for rule in _changing(world.app):
        url = url_of(world.app, rule, world.values())
        if how == "no token":
            response = admin.post(url, data={"name": "forged"})
        elif how == "another session's token":
            response = admin.post(url, data={"name": "forged", "csrf_token": stolen},
                                  headers={"X-CSRFToken": stolen})
        else:
            response = admin.post(url, data={"name": "forged"}, headers={"HX-Request": "true"})
        if response.status_code != 400 or REFUSED not in response.get_data(as_text=True):
            accepted.append((rule.endpoint, response.status_code))
    assert accepted == []


def test_the_session_token_itself_is_accepted(world):
    """The matrix above can fail: with the right token the same request goes through."""
    admin = world.clients["admin"]
    token = _token_of(admin)
    response = admin.post("/orgs/new", data={"name": "Made with a token",
                                             "csrf_token": token})
    assert response.status_code == 303
    response = admin.post("/connections/test", data={"csrf_token": token},
                          headers={"HX-Request": "true", "X-CSRFToken": token})
    assert REFUSED not in response.get_data(as_text=True)


def test_sign_in_itself_needs_a_token(app):
    app.config["WTF_CSRF_ENABLED"] = True
    response = app.test_client().post("/login", data={"email": "a@example.com",
                                                      "password": "whatever it is"})
    assert response.status_code == 400
