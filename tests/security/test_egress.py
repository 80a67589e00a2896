"""Server-side request forgery: the egress policy, checked on every hop and every socket."""

from __future__ import annotations

import pytest

from oneroster.client import OneRosterClient
from oneroster.egress import EgressPolicy
from oneroster.model import Category, ClientSettings, OneRosterError
from tests.security.servers import TOKEN, Received, Reply, serve

SECRET = "s3cr3t/with+odd=chars"
PATH = "/ims/oneroster/rostering/v1p2"


def settings(base: str, egress: EgressPolicy, **changes) -> ClientSettings:
    values = {"base_url": base + PATH, "client_id": "district-app", "client_secret": SECRET,
              "auth_url": base + "/oauth/token", "egress": egress, "max_retries": 0,
              "connect_timeout": 2, "read_timeout": 5}
    return ClientSettings(**(values | changes))


def token_and_users(got: Received) -> Reply:
    if got.path.startswith("/oauth/token"):
        return Reply.json(TOKEN)
    return Reply.json({"users": []}, 200)


def refused(settings_: ClientSettings) -> OneRosterError:
    with OneRosterClient(settings_) as client, pytest.raises(OneRosterError) as caught:
        client.get_page("users", 0, 1)
    return caught.value


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_under_the_default_policy(host):
    with serve(token_and_users) as server:
        base = server.url.replace("127.0.0.1", host)
        error = refused(settings(base, EgressPolicy()))
    assert error.category == Category.EGRESS_REFUSED
    assert "this computer itself" in error.message
    assert server.received == []


@pytest.mark.parametrize("url, rule", [
    ("http://169.254.169.254", "always refused"),
    ("http://[fe80::1]", "always refused"),
    ("http://100.100.100.200", "always refused"),
    ("http://10.1.2.3", "private network"),
    ("http://192.168.0.10", "private network"),
    ("http://[fd00::8]", "private network"),
    ("http://[::ffff:10.0.0.1]", "private network"),
])
def test_private_and_link_local_addresses_are_refused_before_any_connection(url, rule):
    error = refused(settings(url, EgressPolicy()))
    assert error.category == Category.EGRESS_REFUSED
    assert rule in error.message


def test_link_local_stays_refused_when_everything_else_is_allowed():
    policy = EgressPolicy(allow_private=True, allow_loopback=True)
    error = refused(settings("http://169.254.169.254", policy))
    assert "always refused" in error.message


def test_a_name_resolving_to_a_private_address_is_refused_with_the_hint():
    policy = EgressPolicy(hints={"private": "Set ALLOW_PRIVATE to allow it.",
                                 "loopback": "x"},
                          resolver=lambda host, port: ["10.20.30.40"])
    error = refused(settings("https://sis.intranet.test", policy))
    assert "sis.intranet.test (10.20.30.40)" in error.message
    assert "Set ALLOW_PRIVATE to allow it." in error.message


def test_a_redirect_to_a_refused_host_is_refused_at_the_hop_and_nothing_is_sent_there():
    with serve(token_and_users) as inside:
        def outside(got: Received) -> Reply:
            if got.path.startswith("/oauth/token"):
                return Reply.json(TOKEN)
            return Reply(302, headers={"Location": f"http://evil.test:{inside.port}/users"})

        with serve(outside) as sis:
            # evil.test has an allowed and a refused address: which one a later look gives
            # is the name owner's choice, so the name is refused as a whole.
            policy = EgressPolicy(allow_loopback=True,
                                  resolver=lambda host, port: ["127.0.0.1", "10.0.0.9"])
            error = refused(settings(sis.url, policy))
    assert error.category == Category.EGRESS_REFUSED
    assert "10.0.0.9" in error.message
    assert inside.received == []
    assert [r.path.split("?")[0] for r in sis.received] == ["/oauth/token", PATH + "/users"]


def test_a_cross_origin_redirect_of_a_collection_drops_the_authorization():
    with serve(lambda got: Reply.json({"users": []})) as other:
        def first(got: Received) -> Reply:
            if got.path.startswith("/oauth/token"):
                return Reply.json(TOKEN)
            return Reply(307, headers={"Location": f"{other.url}{PATH}/users"})

        with serve(first) as sis, OneRosterClient(
                settings(sis.url, EgressPolicy(allow_loopback=True))) as client:
            client.get_page("users", 0, 1)
    assert len(other.received) == 1
    assert "Authorization" not in other.received[0].headers


@pytest.mark.parametrize("method", ["oauth2_basic", "oauth2_body"])
def test_a_307_from_the_token_url_to_another_origin_never_carries_the_secret(method):
    with serve(lambda got: Reply.json(TOKEN)) as thief:
        def token(got: Received) -> Reply:
            return Reply(307, headers={"Location": f"{thief.url}/oauth/token"})

        with serve(token) as sis, OneRosterClient(settings(
                sis.url, EgressPolicy(allow_loopback=True), auth_method=method)) as client, \
                pytest.raises(OneRosterError) as caught:
            client.token()
    assert thief.received == []
    assert caught.value.category == Category.TOKEN_UNREACHABLE
    assert f"{thief.url}/oauth/token" in caught.value.message
    assert "Auth URL" in caught.value.message


def test_a_name_that_resolves_differently_on_the_second_look_is_refused():
    looks: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        looks.append(host)
        return ["93.184.215.14"] if len(looks) == 1 else ["127.0.0.1"]

    with serve(token_and_users) as server:
        policy = EgressPolicy(resolver=rebinding)
        url = f"http://rebind.test:{server.port}"
        assert policy.problem(url) is None  # the first look, as at save time, is fine
        error = refused(settings(url, policy))
    assert error.category == Category.EGRESS_REFUSED
    assert "rebind.test (127.0.0.1)" in error.message
    assert server.received == []
    assert len(looks) >= 2


def test_a_socket_connects_to_the_address_that_was_checked():
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    with serve(token_and_users) as server, OneRosterClient(settings(
            f"http://sis.pinned.test:{server.port}",
            EgressPolicy(allow_loopback=True, resolver=resolver))) as client:
        page = client.get_page("users", 0, 1)
    assert page.status == 200
    assert "sis.pinned.test" in asked
    assert server.received[0].headers["Host"] == f"sis.pinned.test:{server.port}"


def test_a_non_json_error_body_is_never_echoed():
    page = b"<html><title>root:x:0:0 internal admin</title></html>"

    def answer(got: Received) -> Reply:
        if got.path.startswith("/oauth/token"):
            return Reply(400, b"root:x:0:0:root:/root:/bin/bash", {"Content-Type": "text/plain"})
        return Reply(500, page, {"Content-Type": "text/html"})

    with serve(answer) as server, OneRosterClient(
            settings(server.url, EgressPolicy(allow_loopback=True))) as client, \
            pytest.raises(OneRosterError) as caught:
        client.token()
    assert caught.value.server_message is None
    assert "root:x" not in str(caught.value.message)


def test_a_json_error_message_is_cut_short_and_scrubbed():
    said = f"bad client {SECRET} " + "x" * 1000

    def answer(got: Received) -> Reply:
        return Reply.json({"error": "invalid_client", "error_description": said}, 401)

    with serve(answer) as server, OneRosterClient(
            settings(server.url, EgressPolicy(allow_loopback=True))) as client, \
            pytest.raises(OneRosterError) as caught:
        client.token()
    assert SECRET not in caught.value.server_message
    assert "[redacted]" in caught.value.server_message
    assert len(caught.value.server_message) <= 200


def test_a_secret_cut_in_half_by_the_length_limit_is_still_taken_out():
    from oneroster.errors import scrub, secret_forms

    forms = secret_forms(SECRET, "district-app")
    cut = "bad client_secret=" + SECRET[:9] + "…"
    assert scrub(cut, forms) == "bad client_secret=[redacted]…"
