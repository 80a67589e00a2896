"""Credentials: OAuth 2 client credentials, a shared token, OAuth 1.0a signing, bearer tokens."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from urllib.parse import parse_qs

import pytest
import responses

from oneroster.auth import default_token_url
from oneroster.client import OneRosterClient
from oneroster.model import ENTITIES, Category, OneRosterError
from tests.source_oneroster.fake_sis import (
    BASE,
    SECRET,
    TOKEN,
    TOKEN_URL,
    Collect,
    Collection,
    respond,
    rows,
    serve,
    settings,
    token,
)

SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"


def token_calls(mock: responses.RequestsMock) -> list:
    return [c for c in mock.calls if c.request.method == "POST"]


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def test_client_credentials_with_http_basic_and_scopes(http):
    token(http, scope=SCOPE)
    with OneRosterClient(settings(scopes=(SCOPE,))) as client:
        info = client.token()
    call = token_calls(http)[0]
    expected = base64.b64encode(f"sdm-client:{SECRET}".encode()).decode()
    assert call.request.headers["Authorization"] == f"Basic {expected}"
    assert form(call) == {"grant_type": "client_credentials", "scope": SCOPE}
    assert info.scopes == (SCOPE,) and info.token_type == "bearer"
    assert info.expires_at == pytest.approx(time.time() + 3600, abs=5)


def test_client_credentials_in_the_request_body(http):
    token(http)
    with OneRosterClient(settings(auth_method="oauth2_body")) as client:
        info = client.token()
    call = token_calls(http)[0]
    assert "Authorization" not in call.request.headers
    assert form(call) == {"grant_type": "client_credentials", "client_id": "sdm-client",
                          "client_secret": SECRET}
    assert info.scopes is None  # the server did not say


def test_a_token_url_with_a_query_string_is_used_as_given(http):
    url = "https://district.example.org/campus/oauth2/token?appName=springfield"
    token(http, url=url)
    with OneRosterClient(settings(auth_url=url)) as client:
        client.token()
    assert token_calls(http)[0].request.url == url


def test_without_an_auth_url_the_token_is_asked_beside_the_oneroster_path(http):
    token(http, url="https://sis.example.org/oauth/token")
    with OneRosterClient(settings(auth_url=None)) as client:
        client.token()
    assert default_token_url("https://h.org/vendor/ims/oneroster/v1p1/") == \
        "https://h.org/vendor/oauth/token"


def test_the_token_is_shared_by_every_request_and_thread(http):
    http.add_callback(responses.POST, TOKEN_URL, callback=lambda r: (
        time.sleep(0.1), (200, {}, json.dumps({"access_token": TOKEN, "expires_in": 3600})))[1])
    for entity in ENTITIES:
        serve(http, entity, rows(entity, 250))
    with OneRosterClient(settings()) as client:
        threads = [threading.Thread(target=client.get_page, args=("users",)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result = client.fetch(ENTITIES, sink=Collect())
    assert result.ok
    assert len(token_calls(http)) == 1
    assert all(c.request.headers.get("Authorization") == f"Bearer {TOKEN}"
               for c in http.calls if c.request.method == "GET")


def test_a_token_is_replaced_before_it_expires(http):
    token(http, access_token="first", expires_in=0.3)
    token(http, access_token="second", expires_in=3600)
    serve(http, "users", rows("users", 5))
    with OneRosterClient(settings()) as client:
        client.get_page("users")
        time.sleep(0.3)
        client.get_page("users")
    gets = [c.request.headers["Authorization"] for c in http.calls if c.request.method == "GET"]
    assert gets == ["Bearer first", "Bearer second"]


def _refusing(valid: str):
    data = rows("users", 1)

    def answer(request):
        if request.headers.get("Authorization") != f"Bearer {valid}":
            return 401, {}, json.dumps({"error": "invalid_token"})
        return 200, {"X-Total-Count": "1"}, json.dumps({"users": data})
    return answer


def test_a_refused_token_is_replaced_once_and_the_request_tried_again(http):
    token(http, access_token="revoked")
    token(http, access_token="fresh")
    respond(http, "users", _refusing("fresh"))
    with OneRosterClient(settings()) as client:
        page = client.get_page("users")
    assert len(page.records) == 1 and len(token_calls(http)) == 2


def test_a_fresh_token_refused_again_means_revoked_or_no_permission(http):
    token(http, access_token="one")
    token(http, access_token="two")
    respond(http, "users", _refusing("never"))
    with OneRosterClient(settings()) as client, pytest.raises(OneRosterError) as caught:
        client.get_page("users")
    error = caught.value
    assert error.category == Category.AUTHENTICATION and error.entity == "users"
    assert "revoked or lack permission" in error.message
    assert error.server_message == "invalid_token"
    assert len(token_calls(http)) == 2  # one new token, not a loop


def test_a_token_expiring_in_the_middle_of_a_fetch_is_renewed_once(http):
    token(http, access_token="early")
    token(http, access_token="late")
    data = rows("users", 1000)
    served = []
    lock = threading.Lock()

    def answer(request):
        with lock:
            served.append(request.headers["Authorization"])
            expired = len(served) > 4
        if request.headers["Authorization"] == "Bearer early" and expired:
            return 401, {}, json.dumps({"imsx_codeMajor": "failure", "imsx_severity": "error",
                                        "imsx_description": "The access token has expired"})
        offset, limit = int(request.params["offset"]), int(request.params["limit"])
        return 200, {"X-Total-Count": "1000"}, json.dumps({"users": data[offset:offset + limit]})

    respond(http, "users", answer)
    sink = Collect()
    with OneRosterClient(settings(page_size=50, max_in_flight=3)) as client:
        result = client.fetch(("users",), sink=sink)
    assert result.ok and len(sink.ids("users")) == 1000
    assert len(token_calls(http)) == 2
    assert "Bearer late" in served


def test_a_refused_client_is_asked_for_a_token_once_and_every_collection_says_so(http):
    token(http, status=401, body={"error": "invalid_client",
                                  "error_description": "Client authentication failed"})
    with OneRosterClient(settings()) as client:
        result = client.fetch(ENTITIES, sink=Collect())
    assert len(http.calls) == 1
    for entity, run in result.results.items():
        assert run.error.category == Category.AUTHENTICATION and run.error.entity == entity
        assert run.error.server_message == "invalid_client: Client authentication failed"


@pytest.mark.parametrize(("status", "body", "category"), [
    (400, {"error": "invalid_scope"}, Category.FORBIDDEN),
    (401, {"error": "unauthorized_client"}, Category.AUTHENTICATION),
    (404, "<html><title>Not Found</title></html>", Category.TOKEN_UNREACHABLE),
    (200, {"token_type": "bearer"}, Category.INVALID_RESPONSE),
    (200, "<!doctype html><title>Sign in</title>", Category.TOKEN_UNREACHABLE),
])
def test_token_endpoint_failures_are_named(http, status, body, category):
    if isinstance(body, dict):
        http.add(responses.POST, TOKEN_URL, json=body, status=status)
    else:
        http.add(responses.POST, TOKEN_URL, body=body, status=status, content_type="text/html")
    with OneRosterClient(settings(scopes=(SCOPE,))) as client, \
            pytest.raises(OneRosterError) as caught:
        client.token()
    assert caught.value.category == category
    assert SECRET not in str(caught.value.to_dict())


def test_expires_in_sent_as_a_string_is_understood(http):
    token(http, expires_in="1199")
    with OneRosterClient(settings()) as client:
        assert client.token().expires_at == pytest.approx(time.time() + 1199, abs=5)


def test_a_static_bearer_token_is_the_client_secret(http):
    serve(http, "users", rows("users", 2))
    with OneRosterClient(settings(auth_method="bearer", auth_url=None)) as client:
        assert client.token().expires_at == math.inf
        client.get_page("users")
    assert [c.request.method for c in http.calls] == ["GET"]
    assert http.calls[0].request.headers["Authorization"] == f"Bearer {SECRET}"


def test_a_refused_static_bearer_token_is_not_retried(http):
    respond(http, "users", lambda request: (401, {}, json.dumps({"error": "invalid_token"})))
    with OneRosterClient(settings(auth_method="bearer")) as client, \
            pytest.raises(OneRosterError) as caught:
        client.get_page("users")
    assert caught.value.category == Category.AUTHENTICATION
    assert len(http.calls) == 1


@pytest.mark.parametrize("method", ["HMAC-SHA256", "HMAC-SHA1"])
def test_oauth1_signs_every_request_without_a_token_endpoint(http, method):
    serve(http, "users", Collection(rows("users", 3)))
    with OneRosterClient(settings(auth_method="oauth1", signature_method=method,
                                  version="1.1")) as client:
        assert client.token().token_type == "oauth1"
        client.get_page("users", params={"filter": "status='active'"})
    header = http.calls[0].request.headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    assert header.startswith("OAuth ")
    assert f'oauth_signature_method="{method}"' in header
    assert 'oauth_consumer_key="sdm-client"' in header
    assert SECRET not in header
    assert [c.request.method for c in http.calls] == ["GET"]


def test_an_unknown_signature_method_is_refused_up_front():
    with pytest.raises(ValueError, match="signature method"):
        OneRosterClient(settings(auth_method="oauth1", signature_method="PLAINTEXT"))


def test_requests_always_carry_connect_and_read_timeouts(http):
    token(http)
    serve(http, "users", rows("users", 1))
    with OneRosterClient(settings(connect_timeout=3, read_timeout=12)) as client:
        client.get_page("users")
    assert [c.request.req_kwargs["timeout"] for c in http.calls] == [(3, 12), (3, 12)]
    assert http.calls[1].request.url.startswith(f"{BASE}/users?")
