"""The client against the sandbox SIS over loopback: every fault profile, OAuth 1, the proxy."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

import pytest

from oneroster.client import OneRosterClient
from oneroster.model import ENTITIES, Category, OneRosterError
from tests.source_oneroster.fake_sis import Collect

ALL = (*ENTITIES, "academicSessions", "demographics")


def fetch(sandbox, profile, entities=ALL, **changes):
    """Fetch with a sandbox profile; return the result, what the sink got and the progress."""
    sink, progress = Collect(), []
    since = changes.pop("since", None)
    values = {"page_size": 100, "backoff_base": 0.01, "backoff_max": 0.05, **changes}
    with OneRosterClient(sandbox.settings(profile, **values)) as client:
        result = client.fetch(entities, sink=sink, progress=progress.append, since=since)
    return result, sink, progress


def assert_exact(sandbox, sink, entities, version="1.2"):
    """Every record the server has, once, exactly as it sent it."""
    base = sandbox.base_url_v1p1 if version == "1.1" else sandbox.base_url
    for entity in entities:
        expected = sandbox.app.district.records(entity, base, version)
        got = sorted((r.raw for r in sink.records.get(entity, [])),
                     key=lambda raw: raw["sourcedId"])
        assert got == expected, entity


@pytest.mark.parametrize("profile", ["demo", "latency", "flaky", "clamped", "no-total",
                                     "bare-link", "truncated"])
def test_each_profile_yields_the_exact_record_set(sandbox, profile):
    result, sink, _ = fetch(sandbox, profile)
    assert result.ok, {e: r.error and r.error.public_message for e, r in result.results.items()}
    assert_exact(sandbox, sink, ALL)
    users = result.results["users"]
    assert (users.records, users.total) == (300, 300)


def test_faults_are_retried_not_reported(sandbox):
    result, _, progress = fetch(sandbox, "flaky")
    assert result.ok and sum(p.retries for p in progress if p.state == "done") > 0


def test_a_clamping_server_gets_pages_of_its_own_size(sandbox):
    result, _, _ = fetch(sandbox, "clamped", entities=("enrollments",), page_size=1000)
    enrollments = result.results["enrollments"]
    assert enrollments.pages == -(-enrollments.records // 100)  # ceil: no page wasted


def test_rate_limits_are_waited_out(sandbox):
    result, sink, progress = fetch(sandbox, "rate-limited", entities=("users", "enrollments"),
                                   page_size=100, max_in_flight=8)
    assert result.ok
    assert_exact(sandbox, sink, ("users", "enrollments"))
    assert any(p.waiting_s > 0 for p in progress)  # the wait was shown


def test_short_lived_tokens_are_renewed_during_a_fetch(sandbox):
    before = sandbox.app.tokens.issued.get("short-token", 0)
    result, sink, _ = fetch(sandbox, "short-token", entities=("users", "enrollments"),
                            page_size=20, max_in_flight=2)
    assert result.ok
    assert_exact(sandbox, sink, ("users", "enrollments"))
    assert sandbox.app.tokens.issued["short-token"] - before >= 2


def test_oauth1_signed_1p1_is_normalised_to_1p2(sandbox):
    result, sink, _ = fetch(sandbox, "oauth1", entities=("users", "enrollments", "classes"))
    assert result.ok
    assert_exact(sandbox, sink, ("users", "enrollments", "classes"), version="1.1")
    user = next(r for r in sink.records["users"] if r.raw["role"] == "student")
    assert user.data["roles"][0]["role"] == "student"
    assert user.data["primaryOrg"] == user.raw["orgs"][0]
    assert user.data["enabledUser"] == "true" and user.raw["enabledUser"] is True
    assert {r.data["primary"] for r in sink.records["enrollments"]} == {"true", "false"}


@pytest.mark.parametrize("method", ["HMAC-SHA256", "HMAC-SHA1"])
def test_oauth1_with_a_wrong_secret_is_refused(sandbox, method):
    result, _, _ = fetch(sandbox, "oauth1", entities=("users",), client_secret="wrong-secret",
                         signature_method=method)
    error = result.results["users"].error
    assert (error.category, error.entity, error.status) == \
        (Category.AUTHENTICATION, "users", 401)
    assert "signature" in error.server_message


def test_missing_demographics_scope_fails_only_demographics(sandbox):
    result, sink, _ = fetch(sandbox, "no-demographics")
    assert result.failed == ["demographics"]
    error = result.results["demographics"].error
    assert (error.category, error.entity) == (Category.FORBIDDEN, "demographics")
    assert error.missing_scope.endswith("/scope/roster-demographics.readonly")
    assert_exact(sandbox, sink, ENTITIES)


def test_missing_enrollments_access_names_entity_category_and_scope(sandbox):
    result, sink, _ = fetch(sandbox, "no-enrollments")
    assert result.failed == ["enrollments"]
    error = result.results["enrollments"].error
    assert (error.category, error.entity, error.status) == \
        (Category.FORBIDDEN, "enrollments", 403)
    assert error.missing_scope == "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"
    assert error.missing_scope in error.message
    assert_exact(sandbox, sink, ("orgs", "courses", "classes", "users"))


def test_a_wrong_secret_fails_every_collection_as_authentication(sandbox):
    result, _, _ = fetch(sandbox, "demo", client_secret="not-it")
    assert {r.error.category for r in result.results.values()} == {Category.AUTHENTICATION}
    assert "not-it" not in str([r.error.to_dict() for r in result.results.values()])


def test_delta_brings_changed_and_deleted_records_only(sandbox):
    since = "2025-10-15T00:00:00.000Z"
    result, sink, _ = fetch(sandbox, "demo", entities=("enrollments",), since=since)
    assert result.ok
    expected = [r for r in sandbox.app.district.records("enrollments", sandbox.base_url)
                if r["dateLastModified"] > since]
    assert sorted(r.sourced_id for r in sink.records["enrollments"]) == \
        sorted(r["sourcedId"] for r in expected)
    assert "tobedeleted" in {r.status for r in sink.records["enrollments"]}


def test_the_servers_root_is_not_a_oneroster_endpoint(sandbox):
    with OneRosterClient(sandbox.settings("demo", base_url=sandbox.url)) as client, \
            pytest.raises(OneRosterError) as caught:
        client.get_page("users")
    assert caught.value.category == Category.NOT_ONEROSTER
    assert sandbox.base_url in caught.value.message


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def forward_proxy():
    """A real HTTP forward proxy on loopback (pproxy), with its log of connections."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pproxy", "-l", f"http://127.0.0.1:{port}", "-v"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError("pproxy did not start")
    proxy = {"url": f"http://127.0.0.1:{port}", "process": process}
    yield proxy
    process.terminate()
    process.wait(timeout=10)


def test_every_request_goes_through_the_countrys_proxy(sandbox, forward_proxy):
    seen_before = sandbox.app.stats.total
    accepted_before = sandbox.server.accepted
    result, sink, _ = fetch(sandbox, "demo", entities=("orgs", "users"), proxy_country="EU",
                            proxies={"EU": forward_proxy["url"]})
    assert result.ok
    assert_exact(sandbox, sink, ("orgs", "users"))
    assert sandbox.app.stats.total - seen_before >= 3  # the token request and the pages
    connections = sandbox.server.accepted - accepted_before
    forward_proxy["process"].terminate()
    log = forward_proxy["process"].communicate(timeout=10)[0]
    through = re.findall(rf"-> 127\.0\.0\.1:{sandbox.port}", log)
    assert through and len(through) == connections  # every connection came through the proxy


def test_a_proxy_that_is_down_is_a_proxy_failure_not_a_direct_connection(sandbox):
    seen_before = sandbox.app.stats.total
    result, _, _ = fetch(sandbox, "demo", entities=("users",), proxy_country="EU",
                         proxies={"EU": f"http://127.0.0.1:{_free_port()}"})
    assert result.results["users"].error.category == Category.PROXY
    assert sandbox.app.stats.total == seen_before


def test_a_proxy_country_without_a_proxy_sends_nothing(sandbox):
    seen_before = sandbox.app.stats.total
    with OneRosterClient(sandbox.settings("demo", proxy_country="EU", proxies={})) as client:
        with pytest.raises(OneRosterError) as caught:
            client.get_page("users")
        result = client.fetch(ENTITIES, sink=Collect())
    assert caught.value.category == Category.PROXY and "SDM_PROXY_EU" in caught.value.message
    assert {r.error.category for r in result.results.values()} == {Category.PROXY}
    assert sandbox.app.stats.total == seen_before
