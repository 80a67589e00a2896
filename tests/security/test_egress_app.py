"""The egress policy as SDM applies it: the reason next to the field, the settings named."""

from __future__ import annotations

import html

import pytest

from tests.connections.conftest import VALID
from tests.security.servers import TOKEN, Reply, serve
from webapp.connections.egress import policy_from


def _error_of(body: str, field: str) -> str:
    marker = f'data-field="{field}">'
    assert marker in body, f"no inline error for {field}"
    return html.unescape(body.split(marker, 1)[1].split("</small>", 1)[0])


@pytest.fixture
def app_config(app_config):
    return app_config | {"ALLOW_LOOPBACK": False}


@pytest.mark.parametrize("field, url, words", [
    ("base_url", "https://169.254.169.254/ims/oneroster/rostering/v1p2", "always refused"),
    ("base_url", "https://10.0.0.5/ims/oneroster/rostering/v1p2", "SDM_ALLOW_PRIVATE_NETWORKS"),
    ("auth_url", "http://127.0.0.1:9/oauth/token", "SDM_ALLOW_LOOPBACK=true"),
    ("base_url", "http://localhost:9/ims/oneroster/rostering/v1p2", "SDM_ALLOW_LOOPBACK=true"),
])
def test_a_refused_address_is_named_next_to_the_field_at_save(staff, login, create, field,
                                                                url, words):
    login(staff.admin_id)
    response = create(**{field: url})
    assert response.status_code == 422
    assert words in _error_of(response.get_data(as_text=True), field)


def test_an_unsaved_test_is_refused_before_anything_is_sent(client, staff, login):
    with serve(lambda got: Reply.json(TOKEN)) as server:
        login(staff.member_id)
        response = client.post("/connections/test", data={
            **VALID, "base_url": f"{server.url}/ims/oneroster/rostering/v1p2",
            "auth_url": f"{server.url}/oauth/token"})
    body = response.get_data(as_text=True)
    assert "SDM_ALLOW_LOOPBACK=true" in html.unescape(body)
    assert server.received == []


def test_private_networks_are_allowed_when_configured(app, staff, login, create):
    app.config["ALLOW_PRIVATE_NETWORKS"] = True
    login(staff.admin_id)
    assert create(base_url="https://10.0.0.5/ims/oneroster/rostering/v1p2",
                  auth_url="https://10.0.0.5/oauth/token").status_code == 303


def test_demo_and_tests_reach_loopback_and_nothing_else_widens():
    assert policy_from({"ALLOW_LOOPBACK": True}).allow_loopback
    assert not policy_from({"ALLOW_LOOPBACK": True}).allow_private
    assert not policy_from({}).allow_loopback
