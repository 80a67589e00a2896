"""The connection-test checklist engine: over a scripted client, then against the sandbox SIS."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from oneroster.base_url import analyse_base_url
from oneroster.check import initial_steps, run_check
from oneroster.model import ENTITIES, Category, OneRosterError
from tests.connections.scripted_client import BASE, SECRET, ScriptedClient, page, settings


def run(client, budget=5.0, **setting_changes):
    reports: list[dict] = []
    result = run_check(settings(**setting_changes), budget=budget, report=reports.append,
                       client_factory=lambda s: client)
    return result, reports


def states(result) -> dict[str, str]:
    return {step["id"]: step["state"] for step in result["steps"]}


# --- Base URL shape -----------------------------------------------------------------------

def test_well_formed_base_url_passes():
    finding = analyse_base_url(BASE, "1.2")
    assert finding.state == "ok" and not finding.blocking and finding.suggestion is None


def test_missing_path_is_flagged_with_a_suggestion():
    finding = analyse_base_url("https://sis.example.org/api/", "1.2")
    assert finding.state == "warning" and not finding.blocking
    assert finding.suggestion == "https://sis.example.org/api/ims/oneroster/rostering/v1p2"


def test_doubled_path_blocks_and_suggests_the_single_path():
    finding = analyse_base_url(BASE + "/ims/oneroster/rostering/v1p2", "1.2")
    assert finding.blocking and finding.state == "failed"
    assert finding.suggestion == BASE
    assert "appears twice" in finding.summary


def test_a_collection_at_the_end_blocks():
    finding = analyse_base_url(BASE + "/users", "1.2")
    assert finding.blocking and finding.suggestion == BASE


def test_version_mismatch_is_a_warning():
    finding = analyse_base_url("https://sis.example.org/ims/oneroster/v1p1", "1.2")
    assert finding.state == "warning" and "1.1" in finding.summary


def test_vendor_prefix_is_fine():
    url = ("https://d.infinitecampus.org/campus/api/oneroster/v1p2/app/"
           "ims/oneroster/rostering/v1p2")
    assert analyse_base_url(url, "1.2").state == "ok"


@pytest.mark.parametrize("url", ["sis.example.org/ims", "ftp://sis.example.org/x", ""])
def test_not_a_url_blocks(url):
    assert analyse_base_url(url, "1.2").blocking


def test_credentials_in_the_url_block_without_being_repeated():
    finding = analyse_base_url("https://me:hunter2@sis.example.org/ims/oneroster/v1p1", "1.1")
    assert finding.blocking
    assert "hunter2" not in repr(finding)


def test_plain_http_elsewhere_than_loopback_warns():
    assert analyse_base_url("http://sis.example.org/ims/oneroster/v1p1", "1.1").state == "warning"
    assert analyse_base_url("http://127.0.0.1:5000/ims/oneroster/v1p1", "1.1").state == "ok"


# --- The checklist ------------------------------------------------------------------------

def test_success_ticks_every_step_and_reports_as_it_goes():
    client = ScriptedClient()
    result, reports = run(client)

    assert result["state"] == "success" and result["error"] is None
    assert set(states(result).values()) == {"ok"}
    assert [s["id"] for s in result["steps"]] == [s.id for s in initial_steps()]
    # The first report lists every step pending; the last one is the verdict.
    assert {s["state"] for s in reports[0]["steps"]} == {"pending"}
    assert reports[-1] == result
    testing = [r for r in reports if r["state"] == "testing"]
    token_done = [r for r in testing if states(r)["token"] == "ok"]
    assert token_done and states(token_done[0])["orgs"] in ("pending", "running")
    users = next(s for s in result["steps"] if s["id"] == "users")
    assert users["summary"] == "HTTP 200 · 3 records"  # the time once, in its own column
    assert users["elapsed_ms"] == 12
    assert "required fields" in users["details"][0]
    token = next(s for s in result["steps"] if s["id"] == "token")
    assert "expires in" in token["summary"]
    assert any("roster-core.readonly" in d for d in token["details"])
    assert result["learned"]["sends_totals"] is True
    assert client.closed


def test_forbidden_collection_is_an_error_naming_the_scope():
    forbidden = OneRosterError(Category.FORBIDDEN, "Access to enrollments is forbidden.",
                               status=403, missing_scope="roster.readonly",
                               server_message="insufficient_scope")
    client = ScriptedClient(pages={"enrollments": forbidden})
    result, _ = run(client)

    assert result["state"] == "error"
    assert states(result)["enrollments"] == "failed"
    assert all(states(result)[e] == "ok" for e in ENTITIES if e != "enrollments")
    error = result["error"]
    assert error["step"] == "Enrollments" and error["status"] == 403
    assert error["missing_scope"] == "roster.readonly"
    assert error["title"] == "Access forbidden"
    assert error["advice"]


def test_token_failure_stops_before_the_collections():
    refused = OneRosterError(Category.AUTHENTICATION, "The token endpoint refused the client.",
                             status=401, server_message="invalid_client")
    client = ScriptedClient(token=refused)
    result, _ = run(client)

    assert result["state"] == "error"
    assert result["error"]["title"] == "Authentication Failed"
    assert "Verify Client ID and Secret are correct" in result["error"]["advice"]
    assert result["error"]["server_message"] == "invalid_client"
    assert all(states(result)[e] == "skipped" for e in ENTITIES)
    assert not [c for c in client.calls if c[0] == "page"]


def test_a_hanging_server_ends_within_the_budget():
    release = threading.Event()

    def hang():
        release.wait(10)
        return page("users", 1)

    client = ScriptedClient(pages={"users": hang})
    started = time.monotonic()
    result, _ = run(client, budget=0.5)
    release.set()

    assert time.monotonic() - started < 1.5
    assert result["state"] == "error"
    assert states(result)["users"] == "failed"
    assert result["error"]["title"] == "Connection Timeout"
    assert result["error"]["category"] == Category.BUDGET_EXCEEDED.value
    assert "Verify the Base URL is correct" in result["error"]["advice"]


def test_missing_required_field_warns_but_passes():
    client = ScriptedClient(pages={"orgs": page("orgs", 2, drop=("identifier",))})
    result, _ = run(client)
    assert result["state"] == "success"
    orgs = next(s for s in result["steps"] if s["id"] == "orgs")
    assert orgs["state"] == "warning" and "identifier" in orgs["details"][0]


def test_no_totals_and_a_clamped_page_size_are_learned():
    clamped = {e: page(e, 500, total=None, link=False) for e in ENTITIES}
    client = ScriptedClient(pages=clamped,
                            second_pages={e: page(e, 100, total=None) for e in ENTITIES})
    result, _ = run(client)

    assert result["state"] == "success"
    users = next(s for s in result["steps"] if s["id"] == "users")
    assert "more than 500 records" in users["summary"]
    learned = result["learned"]
    assert learned["sends_totals"] is False and learned["page_size_honoured"] == 500
    server = next(s for s in result["steps"] if s["id"] == "server")
    assert any("at most 500" in d for d in server["details"])


def test_small_collections_without_totals_say_so():
    client = ScriptedClient(pages={e: page(e, 4, total=None, link=False) for e in ENTITIES},
                            second_pages={e: page(e, 0, total=None) for e in ENTITIES})
    result, _ = run(client)
    users = next(s for s in result["steps"] if s["id"] == "users")
    assert "4 records (no total sent)" in users["summary"]


def test_link_without_total_counts_as_more():
    client = ScriptedClient(pages={"users": page("users", 1000, total=None,
                                                 next_url=BASE + "/users?offset=1000")})
    result, _ = run(client)
    users = next(s for s in result["steps"] if s["id"] == "users")
    assert "more than 1,000 records" in users["summary"]
    assert result["learned"]["page_size_honoured"] == 1000


def test_bearer_credentials_need_no_token_request():
    client = ScriptedClient()
    result, _ = run(client, auth_method="bearer")
    assert result["state"] == "success"
    assert ("token",) not in client.calls


def test_proxy_country_without_a_proxy_sends_nothing():
    opened = []
    result = run_check(settings(proxy_country="EU"), budget=2,
                       client_factory=lambda s: opened.append(s))
    assert result["state"] == "error"
    assert states(result)["proxy"] == "failed" and states(result)["token"] == "skipped"
    assert "SDM_PROXY_EU" in result["error"]["message"]
    assert opened == []


def test_a_proxy_that_answers_is_named_as_the_egress():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        result, _ = run(ScriptedClient(), proxy_country="EU",
                        proxies={"EU": f"http://127.0.0.1:{port}"})
    finally:
        listener.close()
    proxy = next(s for s in result["steps"] if s["id"] == "proxy")
    assert proxy["state"] == "ok" and f"127.0.0.1:{port}" in proxy["summary"]


def test_a_proxy_that_does_not_answer_fails_the_test():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result, _ = run(ScriptedClient(), proxy_country="EU",
                    proxies={"EU": f"http://127.0.0.1:{port}"})
    assert states(result)["proxy"] == "failed"
    assert result["error"]["category"] == Category.PROXY.value


def test_doubled_path_fails_without_any_request():
    client = ScriptedClient()
    result, _ = run(client, base_url=BASE + "/ims/oneroster/rostering/v1p2")
    assert result["state"] == "error" and client.calls == []
    assert result["error"]["suggestion"] == BASE


def test_not_found_collections_suggest_the_likely_base_url():
    lost = OneRosterError(Category.NOT_FOUND, "The server answered 404.", status=404)
    client = ScriptedClient(pages={e: lost for e in ENTITIES})
    result, _ = run(client, base_url="https://sis.example.org/api")
    assert result["state"] == "error"
    assert result["error"]["suggestion"] == (
        "https://sis.example.org/api/ims/oneroster/rostering/v1p2")
    assert states(result)["server"] == "skipped"


def test_the_secret_never_appears_in_the_result():
    echoed = OneRosterError(Category.AUTHENTICATION, "Refused.", status=401,
                            server_message=f"bad client secret {SECRET}")
    result, reports = run(ScriptedClient(token=echoed))
    assert SECRET not in repr(result) and SECRET not in repr(reports)


def test_cancelling_stops_the_test():
    cancel = threading.Event()
    cancel.set()
    result = run_check(settings(), budget=2, cancel=cancel,
                       client_factory=lambda s: ScriptedClient())
    assert result["state"] == "error"
    assert result["error"]["category"] == Category.CANCELLED.value


# --- Against the sandbox SIS on loopback ----------------------------------------------

PASSING_PROFILES = ("demo", "latency", "flaky", "rate-limited", "short-token", "clamped",
                    "no-total", "bare-link", "oauth1", "truncated", "no-demographics")


@pytest.mark.parametrize("profile", PASSING_PROFILES)
def test_every_well_meaning_sandbox_profile_passes(sandbox, profile):
    result = run_check(sandbox.settings(profile), budget=20)
    assert result["state"] == "success", result["error"]
    assert all(states(result)[e] == "ok" for e in ENTITIES), states(result)


def test_sandbox_counts_and_server_quirks_are_reported(sandbox):
    counts = {e: sandbox.app.district.counts()[e] for e in ENTITIES}
    demo = run_check(sandbox.settings("demo"), budget=20)
    users = next(s for s in demo["steps"] if s["id"] == "users")
    assert f"{counts['users']:,} records" in users["summary"]

    no_total = run_check(sandbox.settings("no-total"), budget=20)
    assert no_total["learned"]["sends_totals"] is False
    assert no_total["learned"]["page_size_honoured"] == 100
    users = next(s for s in no_total["steps"] if s["id"] == "users")
    assert "more than 100 records" in users["summary"]


def test_sandbox_without_enrollment_access_fails_naming_the_scope(sandbox):
    result = run_check(sandbox.settings("no-enrollments"), budget=20)
    assert result["state"] == "error"
    assert result["error"]["step"] == "Enrollments" and result["error"]["status"] == 403
    assert result["error"]["missing_scope"].endswith("roster.readonly")


def test_sandbox_refuses_a_wrong_secret(sandbox):
    result = run_check(sandbox.settings("demo", client_secret="wrong"), budget=20)
    assert result["error"]["title"] == "Authentication Failed"
    assert result["error"]["status"] == 401


def test_a_base_url_without_the_oneroster_path_gets_the_right_suggestion(sandbox):
    result = run_check(sandbox.settings("demo", base_url=sandbox.url), budget=20)
    assert states(result)["base_url"] == "warning"
    assert result["state"] == "error"
    assert result["error"]["suggestion"] == sandbox.base_url
