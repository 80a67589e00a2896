"""Retries, Retry-After, the time budget, and failures named so that a person can act on them."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests
import responses
import urllib3

from oneroster.client import OneRosterClient
from oneroster.egress import EgressPolicy
from oneroster.errors import classify_exception, suggest_base_url
from oneroster.model import Category, OneRosterError
from tests.source_oneroster.fake_sis import (
    BASE,
    SECRET,
    TOKEN,
    Collect,
    rows,
    serve,
    settings,
    token,
)

USERS = f"{BASE}/users"


def imsx(description: str, code: str = "server_busy") -> dict:
    return {"imsx_codeMajor": "failure", "imsx_severity": "error",
            "imsx_description": description,
            "imsx_CodeMinor": {"imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code}]}}


def page_error(s=None, entity="users") -> OneRosterError:
    with OneRosterClient(s or settings()) as client, pytest.raises(OneRosterError) as caught:
        client.get_page(entity)
    return caught.value


def ok_page(http, n=3):
    http.add(responses.GET, USERS, json={"users": rows("users", n)},
             headers={"X-Total-Count": str(n)})


def test_server_errors_and_resets_are_retried_with_backoff(http):
    token(http)
    http.add(responses.GET, USERS, json=imsx("busy"), status=503)
    http.add(responses.GET, USERS, body=requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104))))
    http.add(responses.GET, USERS, body="<html>502 Bad Gateway</html>", status=502)
    ok_page(http)
    progress = []
    with OneRosterClient(settings(max_retries=3)) as client:
        result = client.fetch(("users",), sink=Collect(), progress=progress.append)
    assert result.ok and result.results["users"].records == 3
    assert max(p.retries for p in progress) == 3


def test_retry_after_is_honoured_and_reported_as_waiting(http):
    token(http)
    http.add(responses.GET, USERS, json=imsx("slow down"), status=429,
             headers={"Retry-After": "0.3"})
    ok_page(http)
    progress = []
    started = time.perf_counter()
    with OneRosterClient(settings()) as client:
        result = client.fetch(("users",), sink=Collect(), progress=progress.append)
    assert time.perf_counter() - started >= 0.3
    assert result.ok
    waits = [p.waiting_s for p in progress]
    assert 0.3 in waits and waits[-1] == 0.0


def test_a_server_that_keeps_refusing_is_reported_as_rate_limited(http):
    token(http)
    http.add(responses.GET, USERS, json=imsx("slow down"), status=429)
    error = page_error()
    assert error.category == Category.RATE_LIMITED and error.status == 429
    assert len([c for c in http.calls if c.request.method == "GET"]) == 4  # 1 + 3 retries


def test_a_retry_after_longer_than_the_time_budget_fails_at_once(http):
    token(http)
    http.add(responses.GET, USERS, json=imsx("come back tomorrow"), status=429,
             headers={"Retry-After": "3600"})
    started = time.perf_counter()
    error = page_error(settings(time_budget=5))
    assert time.perf_counter() - started < 2
    assert error.category == Category.RATE_LIMITED and "3600 s" in error.message


def test_a_pause_of_an_hour_is_reported_not_waited_for_even_without_a_budget(http):
    token(http)
    http.add(responses.GET, USERS, json=imsx("down for maintenance"), status=503,
             headers={"Retry-After": "3600"})
    started = time.perf_counter()
    error = page_error(settings(time_budget=None))
    assert time.perf_counter() - started < 2
    assert (error.category, error.status) == (Category.RATE_LIMITED, 503)


def test_lasting_server_errors_carry_the_servers_own_message(http):
    token(http)
    http.add(responses.GET, USERS, json=imsx("Database unavailable", "internal_server_error"),
             status=500)
    error = page_error()
    assert (error.category, error.status) == (Category.SERVER_ERROR, 500)
    assert error.server_message == "internal_server_error: Database unavailable"
    assert error.advice  # the product page's troubleshooting text


def test_a_body_cut_short_is_fetched_again(http):
    token(http)
    whole = json.dumps({"users": rows("users", 3)})
    http.add(responses.GET, USERS, body=whole[: len(whole) // 2], status=200)
    ok_page(http)
    with OneRosterClient(settings()) as client:
        assert len(client.get_page("users").records) == 3


def test_a_fetch_asks_again_for_a_page_cut_short_and_counts_the_retry(http):
    token(http)
    whole = json.dumps({"users": rows("users", 3)})
    http.add(responses.GET, USERS, body=whole[: len(whole) // 2], status=200,
             headers={"X-Total-Count": "3"})
    ok_page(http)
    sink, progress = Collect(), []
    with OneRosterClient(settings(max_retries=1)) as client:
        result = client.fetch(("users",), sink=sink, progress=progress.append)
    assert result.ok and sink.ids("users") == [r["sourcedId"] for r in rows("users", 3)]
    assert max(p.retries for p in progress) == 1


def test_a_fetch_without_retries_reports_a_page_cut_short_as_invalid(http):
    token(http)
    whole = json.dumps({"users": rows("users", 3)})
    http.add(responses.GET, USERS, body=whole[: len(whole) // 2], status=200)
    with OneRosterClient(settings(max_retries=0)) as client:
        result = client.fetch(("users",), sink=Collect())
    error = result.results["users"].error
    assert error.category == Category.INVALID_RESPONSE and error.entity == "users"
    assert len([c for c in http.calls if c.request.method == "GET"]) == 1


def test_a_body_that_is_never_json_is_an_invalid_response(http):
    token(http)
    http.add(responses.GET, USERS, body='{"users": [', status=200)
    error = page_error()
    assert error.category == Category.INVALID_RESPONSE and error.entity == "users"


def test_read_timeouts_are_retried_then_reported(http):
    token(http)
    http.add(responses.GET, USERS, body=requests.exceptions.ReadTimeout("timed out"))
    error = page_error(settings(read_timeout=7))
    assert error.category == Category.TIMEOUT and "7 s" in error.message
    assert len(http.calls) == 1 + 4


def test_a_web_page_instead_of_json_is_not_a_oneroster_endpoint(http):
    base = "https://sis.example.org/portal"
    token(http)
    http.add(responses.GET, f"{base}/users", body="<!doctype html><title>Portal</title>",
             content_type="text/html")
    error = page_error(settings(base_url=base))
    assert error.category == Category.NOT_ONEROSTER
    assert "https://sis.example.org/portal/ims/oneroster/rostering/v1p2" in error.message


def test_a_404_web_page_suggests_the_expected_path(http):
    token(http)
    base = "https://sis.example.org/api"
    http.add(responses.GET, f"{base}/users", body="<html><title>404</title></html>", status=404,
             content_type="text/html")
    error = page_error(settings(base_url=base, version="1.1"))
    assert error.category == Category.NOT_ONEROSTER
    assert "https://sis.example.org/api/ims/oneroster/v1p1" in error.message


def test_a_oneroster_404_is_not_found(http):
    token(http)
    http.add(responses.GET, f"{BASE}/demographics", json=imsx("No such thing", "unknownobject"),
             status=404)
    error = page_error(entity="demographics")
    assert error.category == Category.NOT_FOUND and error.entity == "demographics"


def test_json_without_the_collection_is_not_a_oneroster_endpoint(http):
    token(http)
    http.add(responses.GET, USERS, json={"data": [], "status": "ok"})
    assert page_error().category == Category.NOT_ONEROSTER


def test_the_suggested_base_url_replaces_a_wrong_version_path():
    assert suggest_base_url("https://h/x/ims/oneroster/v1p1", "1.2") == \
        "https://h/x/ims/oneroster/rostering/v1p2"
    assert suggest_base_url("https://h/x/ims/oneroster/rostering/v1p2/", "1.2") is None


@pytest.mark.parametrize(("message", "entity", "scope"), [
    ("Token lacks https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly", "users",
     "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"),
    ("insufficient scope", "demographics",
     "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly"),
    ("missing roster-core.readonly", "orgs",
     "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"),
])
def test_forbidden_names_the_missing_scope(http, message, entity, scope):
    token(http)
    http.add(responses.GET, f"{BASE}/{entity}", json=imsx(message, "forbidden"), status=403)
    error = page_error(entity=entity)
    assert (error.category, error.missing_scope) == (Category.FORBIDDEN, scope)
    assert scope in error.message


def test_secrets_never_appear_in_errors(http):
    token(http)
    http.add(responses.GET, USERS, status=500, json=imsx(
        f"client_secret={SECRET} token={TOKEN} rejected"))
    error = page_error(settings(max_retries=0))
    text = json.dumps(error.to_dict()) + str(error) + error.public_message
    assert SECRET not in text and TOKEN not in text
    assert "[redacted]" in error.server_message


def test_the_time_budget_bounds_a_fetch(http):
    token(http)
    http.add(responses.GET, USERS, json=imsx("busy"), status=503)
    s = settings(time_budget=0.3, backoff_base=0.2, backoff_max=0.2, max_retries=50)
    with OneRosterClient(s) as client:
        started = time.perf_counter()
        result = client.fetch(("users",), sink=Collect())
    assert time.perf_counter() - started < 1.5
    assert result.results["users"].error.category == Category.BUDGET_EXCEEDED


def test_a_proxy_country_without_a_proxy_sends_nothing(http):
    s = settings(proxy_country="eu", proxies={"US": "http://proxy.example.org:3128"})
    with OneRosterClient(s) as client:
        with pytest.raises(OneRosterError) as caught:
            client.token()
        result = client.fetch(("users", "orgs"), sink=Collect())
    assert caught.value.category == Category.PROXY
    assert "SDM_PROXY_EU" in caught.value.message
    assert {r.error.category for r in result.results.values()} == {Category.PROXY}
    assert len(http.calls) == 0


def test_the_proxy_of_the_connections_country_carries_every_request(http):
    token(http)
    serve(http, "users", rows("users", 2))
    proxy = "http://user:pw-for-proxy@proxy.example.org:3128"
    with OneRosterClient(settings(proxy_country="EU", proxies={"EU": proxy})) as client:
        client.get_page("users")
    assert [c.request.req_kwargs["proxies"] for c in http.calls] == \
        [{"http": proxy, "https": proxy}] * 2


def _wrapped(inner: Exception, kind=requests.exceptions.ConnectionError) -> Exception:
    return kind(urllib3.exceptions.MaxRetryError(None, "/users", inner))


@pytest.mark.parametrize(("exc", "token_phase", "category", "words"), [
    (_wrapped(urllib3.exceptions.NameResolutionError(
        "sis.example.org", None, socket.gaierror(-2, "Name or service not known"))),
     False, Category.DNS, "does not resolve"),
    (_wrapped(urllib3.exceptions.NameResolutionError(
        "sis.example.org", None, socket.gaierror(-2, "Name or service not known"))),
     True, Category.TOKEN_UNREACHABLE, "does not resolve"),
    (requests.exceptions.ConnectTimeout("connect timed out"), False, Category.TIMEOUT,
     "nothing answered there"),
    (requests.exceptions.SSLError("certificate verify failed"), False, Category.TLS,
     "certificate verify failed"),
    (requests.exceptions.ProxyError("Unable to connect to proxy"), True, Category.PROXY,
     "proxy"),
    (_wrapped(ConnectionRefusedError(111, "Connection refused")), False, Category.TIMEOUT,
     "nothing answered there"),
])
def test_network_failures_are_named(exc, token_phase, category, words):
    error = classify_exception(exc, url=f"{USERS}?limit=1", entity="users",
                               token_phase=token_phase, connect_timeout=5, read_timeout=30)
    assert error.category == category
    assert words in error.message


def test_a_closed_port_fails_fast_without_retries():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = settings(base_url=f"http://127.0.0.1:{port}/ims/oneroster/rostering/v1p2",
                 auth_url=f"http://127.0.0.1:{port}/oauth/token", backoff_base=1,
                 egress=EgressPolicy(allow_loopback=True))
    started = time.perf_counter()
    with OneRosterClient(s) as client, pytest.raises(OneRosterError) as caught:
        client.token()
    assert time.perf_counter() - started < 1
    assert caught.value.category == Category.TOKEN_UNREACHABLE
    assert "nothing answered there" in caught.value.message


def test_a_closed_port_and_a_silent_one_read_the_same():
    """Refused and timed-out connections share one wording, so a test is no port scanner."""
    kwargs = {"url": USERS, "entity": "users", "token_phase": False, "connect_timeout": 5,
              "read_timeout": 30}
    refused = classify_exception(_wrapped(ConnectionRefusedError(111, "Connection refused")),
                                 **kwargs)
    silent = classify_exception(requests.exceptions.ConnectTimeout("timed out"), **kwargs)
    assert (refused.category, refused.message) == (silent.category, silent.message)


def test_a_tls_failure_keeps_the_whole_reason_without_openssls_source_line():
    import ssl

    verify = ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
           "certificate in certificate chain (_ssl.c:1006)")
    pool = urllib3.exceptions.MaxRetryError(None, "/ims/oneroster/rostering/v1p2/orgs",
                                            urllib3.exceptions.SSLError(verify))
    wrapped = requests.exceptions.SSLError(pool)
    error = classify_exception(wrapped, url="https://sis.example.org/ims/orgs", entity="orgs",
                               token_phase=False, connect_timeout=5, read_timeout=20)
    assert error.category == Category.TLS
    assert error.message.endswith("self-signed certificate in certificate chain")
    assert "_ssl.c" not in error.message and error.message.count("(") == error.message.count(")")
