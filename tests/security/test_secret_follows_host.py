"""A saved secret goes only to the server it was saved for."""

from __future__ import annotations

import html

import pytest

from tests.connections.conftest import VALID
from tests.security.servers import TOKEN, Reply, serve


def _error_of(body: str, field: str) -> str:
    marker = f'data-field="{field}">'
    assert marker in body, f"no inline error for {field}"
    return html.unescape(body.split(marker, 1)[1].split("</small>", 1)[0])


@pytest.mark.parametrize("changes", [
    {"base_url": "https://evil.example.org/ims/oneroster/rostering/v1p2"},
    {"auth_url": "https://evil.example.org/oauth/token"},
    {"auth_url": "https://sis.example.org:8443/oauth/token"},  # another port: another origin
])
def test_moving_the_secret_to_another_origin_needs_it_typed_again(client, saved, changes):
    response = client.post(f"/connections/{saved}", data={**VALID, "client_secret": "",
                                                          **changes})
    assert response.status_code == 422
    assert "type the Client Secret again" in _error_of(response.get_data(as_text=True),
                                                      "client_secret")
    retyped = client.post(f"/connections/{saved}", data={**VALID, "client_secret": "typed",
                                                         **changes})
    assert retyped.status_code == 303


def test_a_test_of_edited_values_never_sends_the_stored_secret_elsewhere(client, saved):
    with serve(lambda got: Reply.json(TOKEN)) as elsewhere:
        response = client.post(f"/connections/{saved}/test-values", data={
            **VALID, "client_secret": "", "auth_url": f"{elsewhere.url}/oauth/token"})
    assert "type the Client Secret again" in html.unescape(response.get_data(as_text=True))
    assert elsewhere.received == []


def test_the_same_server_keeps_the_stored_secret(client, saved):
    response = client.post(f"/connections/{saved}", data={
        **VALID, "client_secret": "", "base_url": "https://sis.example.org/district/ims"})
    assert response.status_code == 303


def test_the_form_says_so_next_to_the_secret(client, saved):
    page = client.get(f"/connections/{saved}/edit").get_data(as_text=True)
    assert "pointing the Base URL or Auth URL at another server needs the secret typed " \
           "again" in html.unescape(page)
