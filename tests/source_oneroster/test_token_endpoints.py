"""Token endpoints as real servers run them: redirects, demanded scopes, default addresses."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import pytest
import responses

from oneroster.auth import token_url_candidates
from oneroster.client import OneRosterClient
from oneroster.model import Category, OneRosterError
from tests.source_oneroster.fake_sis import BASE, SECRET, TOKEN, TOKEN_URL, settings

CORE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"
BASE_V1P1 = "https://sis.example.org/ims/oneroster/v1p1"


def obtain(s):
    with OneRosterClient(s) as client:
        client.token()
        return client.token_notes()


def basic(call) -> str | None:
    header = call.request.headers.get("Authorization", "")
    return base64.b64decode(header[6:]).decode() if header.startswith("Basic ") else None


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body or "").items()}


def granted(mock, url):
    mock.add(responses.POST, url, json={"access_token": TOKEN, "token_type": "bearer",
                                        "expires_in": 3600})


def test_a_same_origin_redirect_is_followed_with_the_credentials_sent_again(http):
    moved = "https://sis.example.org/oauth2/v2/token"
    http.add(responses.POST, TOKEN_URL, status=307, headers={"Location": "/oauth2/v2/token"})
    granted(http, moved)
    used, notes = obtain(settings())
    assert used == moved
    assert [basic(c) for c in http.calls] == [f"sdm-client:{SECRET}"] * 2
    assert notes == [f"{TOKEN_URL} redirected to {moved} (same server): followed."]


@pytest.mark.parametrize("target", ["https://login.example.com/oauth/token",
                                    "https://sis.example.org:8443/oauth/token",
                                    "http://sis.example.org/oauth/token"])
@pytest.mark.parametrize("method", ["oauth2_basic", "oauth2_body"])
def test_a_redirect_to_another_origin_stops_and_names_the_url_to_use(http, target, method):
    http.add(responses.POST, TOKEN_URL, status=307, headers={"Location": target})
    http.add(responses.POST, target, status=500)  # never asked
    with pytest.raises(OneRosterError) as caught:
        obtain(settings(auth_method=method))
    error = caught.value
    assert error.category == Category.TOKEN_UNREACHABLE and error.status == 307
    assert error.message == (
        f"The token endpoint {TOKEN_URL} redirects to {target}, on another server. SDM does "
        "not send the Client Secret there: if that is your provider's token endpoint, enter "
        "it as the Auth URL")
    assert len(http.calls) == 1  # the secret went nowhere else
    assert SECRET not in error.message


def test_a_demanded_scope_is_asked_for_once_with_roster_core(http):
    http.add(responses.POST, TOKEN_URL, status=400,
             json={"error": "invalid_request", "error_description": "scope is required"})
    granted(http, TOKEN_URL)
    used, notes = obtain(settings())
    assert "scope" not in form(http.calls[0]) and form(http.calls[1])["scope"] == CORE
    assert notes == ["The token endpoint requires a scope: SDM asked for roster-core.readonly."]


def test_a_scope_demanded_again_says_the_endpoint_requires_a_scope(http):
    for _ in range(2):
        http.add(responses.POST, TOKEN_URL, status=400,
                 json={"error": "invalid_request", "error_description": "scope is required"})
    with pytest.raises(OneRosterError) as caught:
        obtain(settings())
    error = caught.value
    assert error.category == Category.FORBIDDEN and error.missing_scope == CORE
    assert error.message == (
        f"The token endpoint requires a scope (SDM asked for {CORE}): enter the scopes this "
        f"client was granted, for example {CORE}")
    assert len(http.calls) == 2  # one retry, no more


def test_a_demanded_scope_is_not_retried_when_scopes_were_given(http):
    mine = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"
    http.add(responses.POST, TOKEN_URL, status=400,
             json={"error": "invalid_request", "error_description": "scope is required"})
    with pytest.raises(OneRosterError) as caught:
        obtain(settings(scopes=(mine,)))
    assert caught.value.message.startswith("The token endpoint requires a scope (SDM asked")
    assert len(http.calls) == 1


def test_with_auth_url_blank_the_defaults_are_tried_in_order_and_named(http):
    http.add(responses.POST, "https://sis.example.org/oauth/token", status=405,
             json={"error": "invalid_request", "error_description": "Method Not Allowed"})
    granted(http, BASE_V1P1 + "/token")
    used, notes = obtain(settings(base_url=BASE_V1P1, version="1.1", auth_url=None))
    assert used == BASE_V1P1 + "/token"
    assert notes == ["Tried https://sis.example.org/oauth/token: HTTP 405"]


def test_with_auth_url_blank_and_no_default_answering_every_url_tried_is_named(http):
    http.add(responses.POST, "https://sis.example.org/oauth/token", status=404,
             body="<html><title>Not Found</title></html>", content_type="text/html")
    http.add(responses.POST, BASE_V1P1 + "/token", status=405)
    with pytest.raises(OneRosterError) as caught:
        obtain(settings(base_url=BASE_V1P1, version="1.1", auth_url=None))
    error = caught.value
    assert error.category == Category.TOKEN_UNREACHABLE
    assert error.message == (
        "No token endpoint answered at the default addresses (the Auth URL is blank). SDM "
        f"tried https://sis.example.org/oauth/token (HTTP 404); {BASE_V1P1}/token (HTTP 405). "
        "Enter the token URL your provider documents as the Auth URL")


def test_a_vendor_prefix_is_tried_before_the_origin():
    assert token_url_candidates(
        "https://h.example/api/ims/oneroster/v1p1", "1.1") == (
        "https://h.example/api/oauth/token", "https://h.example/oauth/token",
        "https://h.example/api/ims/oneroster/v1p1/token")
    assert token_url_candidates(BASE, "1.2") == ("https://sis.example.org/oauth/token",)


def test_a_wrong_secret_at_a_default_address_is_not_taken_for_a_missing_endpoint(http):
    http.add(responses.POST, "https://sis.example.org/oauth/token", status=401,
             json={"error": "invalid_client"})
    with pytest.raises(OneRosterError) as caught:
        obtain(settings(base_url=BASE_V1P1, version="1.1", auth_url=None))
    assert caught.value.category == Category.AUTHENTICATION
    assert len(http.calls) == 1


def test_oauth1_invalid_signature_suggests_the_other_signature_method(http):
    http.add(responses.GET, f"{BASE}/users", status=401,
             json={"imsx_codeMajor": "failure", "imsx_description": "invalid_signature"})
    with OneRosterClient(settings(auth_method="oauth1")) as client, \
            pytest.raises(OneRosterError) as caught:
        client.get_page("users")
    assert caught.value.message.endswith(
        "The server refused the HMAC-SHA256 signature: if it accepts only HMAC-SHA1, choose "
        "HMAC-SHA1 as the signature method")
    assert b"signature_method=\"HMAC-SHA256\"" in http.calls[0].request.headers["Authorization"]


def test_oauth1_signs_with_hmac_sha1_when_chosen(http):
    http.add(responses.GET, f"{BASE}/users", json={"users": []})
    with OneRosterClient(settings(auth_method="oauth1", signature_method="HMAC-SHA1")) as c:
        c.get_page("users")
    assert b"signature_method=\"HMAC-SHA1\"" in http.calls[0].request.headers["Authorization"]


def test_a_web_page_error_is_never_repeated(http):
    """Whatever answers at an address could put anything in a page: none of it is shown."""
    page = ("<!doctype html><html><head><title>429 Too Many Requests</title><style>p{}</style>"
            "</head><body><h1>429 Too Many Requests</h1><p>Quota: 100 requests a minute for "
            f"client {SECRET}.</p><script>var x = 1;</script></body></html>")
    http.add(responses.GET, f"{BASE}/users", status=429, body=page, content_type="text/html")
    http.add(responses.POST, TOKEN_URL, json={"access_token": TOKEN, "expires_in": 3600})
    with OneRosterClient(settings(max_retries=0)) as client, \
            pytest.raises(OneRosterError) as caught:
        client.get_page("users")
    assert caught.value.server_message is None
    assert "Quota" not in caught.value.message and SECRET not in caught.value.message


def test_a_rate_limit_wait_longer_than_the_budget_is_reported_as_rate_limiting(http):
    http.add(responses.POST, TOKEN_URL, json={"access_token": TOKEN, "expires_in": 3600})
    http.add(responses.GET, f"{BASE}/users", status=429, headers={"Retry-After": "20"},
             json={"imsx_codeMajor": "failure", "imsx_description": "slow down"})
    with OneRosterClient(settings(time_budget=2)) as client, \
            pytest.raises(OneRosterError) as caught:
        client.get_page("users")
    error = caught.value
    assert error.category == Category.RATE_LIMITED and error.title == "Rate limited"
    assert error.message == ("The server asked SDM to wait 20 s (429 Too Many Requests, "
                             "Retry-After) before reading more of Users, longer than SDM waits "
                             "within its time budget")


def test_requests_held_back_by_another_requests_retry_after_say_so(http):
    http.add(responses.POST, TOKEN_URL, json={"access_token": TOKEN, "expires_in": 3600})
    http.add(responses.GET, f"{BASE}/users", json={"users": []})
    with OneRosterClient(settings(time_budget=2)) as client:
        client.transport.start_budget()
        client.transport._pause_until = client.transport._deadline + 5  # another's Retry-After
        with pytest.raises(OneRosterError) as caught:
            client.get_page("users")
    error = caught.value
    assert error.category == Category.RATE_LIMITED
    assert error.message.startswith("The server asked SDM to wait ")
    assert error.message.endswith("(429 Too Many Requests, Retry-After) before reading more "
                                  "of Users; the time budget of 2 s ran out first")
    assert json.dumps(error.to_dict())  # nothing unserialisable in it
