"""The connection test against the sandbox's real-server fault profiles, one by one."""

from __future__ import annotations

from oneroster.check import run_check
from oneroster.model import ENTITIES


def check(sandbox, profile, **changes):
    return run_check(sandbox.settings(profile, **changes), budget=20)


def step(result, step_id):
    return next(s for s in result["steps"] if s["id"] == step_id)


def passed(result):
    assert result["state"] == "success", result["error"]
    assert all(step(result, e)["state"] == "ok" for e in ENTITIES)


def test_total_larger_passes_and_says_where_counts_come_from(sandbox):
    result = check(sandbox, "total-larger")
    passed(result)
    assert "5,000,000 records by the server's total (300 on the first page)" in \
        step(result, "users")["summary"]
    server = step(result, "server")
    assert server["details"][0].startswith("Sends totals (X-Total-Count): yes, but the one for ")
    assert "SDM reads to the last page whatever the total says" in server["details"][0]
    assert server["details"][2] == "Page size: 1000 records per page, as asked"


def test_total_smaller_passes_and_never_says_fewer_records_than_it_saw(sandbox):
    result = check(sandbox, "total-smaller")
    passed(result)
    assert "at least 300 records (the server's total says 150)" in \
        step(result, "users")["summary"]


def test_offset_ignored_fails_about_the_server(sandbox):
    result = check(sandbox, "offset-ignored")
    assert result["state"] == "error"
    assert result["error"]["step"] == "About the server"
    assert result["error"]["category"] == "incomplete_collection"
    assert result["error"]["message"] == (
        "The server ignores offset: asked for enrollments from offset 1,000, it sent the first "
        "page again. A run could read only the first page of each collection; ask the SIS "
        "provider how to page through its collections")


def test_token_redirect_to_another_port_names_the_url_to_use(sandbox):
    result = check(sandbox, "token-redirect")
    issuer = sandbox.app.issuer_url + "oauth/issuer/token"
    assert result["error"]["step"] == "Token" and result["error"]["status"] == 307
    assert result["error"]["message"] == (
        f"The token endpoint {sandbox.token_url} redirects to {issuer}, on another server. "
        "SDM does not send the Client Secret there: if that is your provider's token endpoint, "
        "enter it as the Auth URL")
    passed(check(sandbox, "token-redirect", auth_url=issuer))


def test_scope_required_asks_for_roster_core_and_says_so(sandbox):
    result = check(sandbox, "scope-required")
    passed(result)
    details = step(result, "token")["details"]
    assert details[0] == "The token endpoint requires a scope: SDM asked for " \
                         "roster-core.readonly."
    assert "Granted scopes: roster-core.readonly" in details


def test_token_at_base_url_is_found_with_auth_url_blank_naming_each_url(sandbox):
    result = check(sandbox, "token-at-base", auth_url=None)
    passed(result)
    assert step(result, "token")["details"][:2] == [
        f"Tried {sandbox.token_url}: HTTP 405", f"From {sandbox.base_url_v1p1}/token"]


def test_oauth1_sha1_only_fails_with_a_hint_then_passes_with_hmac_sha1(sandbox):
    result = check(sandbox, "oauth1-sha1")
    assert result["state"] == "error" and result["error"]["status"] == 401
    assert result["error"]["message"].endswith(
        "The server refused the HMAC-SHA256 signature: if it accepts only HMAC-SHA1, choose "
        "HMAC-SHA1 as the signature method")
    passed(check(sandbox, "oauth1-sha1", signature_method="HMAC-SHA1"))


def test_html_429_passes(sandbox):
    passed(check(sandbox, "html-429"))


def test_relative_links_pass_and_are_seen(sandbox):
    result = check(sandbox, "relative-links")
    passed(result)
    assert step(result, "server")["details"][1] == "Sends Link headers: yes"


def test_cursor_paging_passes(sandbox):
    result = check(sandbox, "cursor")
    passed(result)
    assert result["learned"]["sends_link"] is True
    assert "more than 1,000 records" in step(result, "enrollments")["summary"]
