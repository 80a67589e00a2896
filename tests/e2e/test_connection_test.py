"""Test Connection in a real browser: live status without reloads, on every page that offers it.

Each scenario sets a marker on `window` before it acts and checks it afterwards: a full page
load would have wiped it.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.e2e.conftest import BUDGET_S

ENTITIES = ("orgs", "courses", "classes", "users", "enrollments")
SANDBOX_SECRET = "sandbox-secret"
# A test runs as a background job; on a busy machine it may take several times its usual second.
VERDICT_MS = 30_000

WATCH = """() => {
  window.__marker = "still-here";
  window.__states = [];
  const record = () => {
    const region = document.querySelector(".test-status");
    const state = region && region.dataset.state;
    if (state && window.__states[window.__states.length - 1] !== state) {
      window.__states.push(state);
    }
  };
  record();
  new MutationObserver(record).observe(document.body,
    {subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"]});
}"""


def watch(page) -> None:
    """Mark the page and record every state the test region goes through."""
    page.evaluate(WATCH)


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.__marker") == "still-here", "the page reloaded"


def open_form(page, provider: str = "sandbox") -> None:
    page.goto("/connections/new")
    if page.input_value("#connection-form-provider") != provider:
        # Switching the template swaps the form: wait for it before typing.
        with page.expect_response(lambda r: "/connections/new?" in r.url):
            page.select_option("#connection-form-provider", provider)
        expect(page.locator("#connection-form-provider")).to_have_value(provider)


def save(page) -> int:
    page.click("#connection-form button[type=submit]:has-text('Save connection')")
    page.wait_for_url(re.compile(r"/connections/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def create_sandbox_connection(page, name: str, client_id: str = "demo") -> int:
    open_form(page)
    page.fill("#connection-form-name", name)
    page.fill("#connection-form-client_id", client_id)
    return save(page)


def region(page, key) -> str:
    return f"#test-status-{key}"


def step_states(page, key) -> dict[str, str]:
    steps = page.locator(f"{region(page, key)} [data-step]")
    return {steps.nth(i).get_attribute("data-step"): steps.nth(i).get_attribute("data-state")
            for i in range(steps.count())}


def test_sandbox_connection_passes_with_every_collection_ticked(signed_in, live_server,
                                                               screenshots):
    page = signed_in
    connection = create_sandbox_connection(page, "Springfield sandbox", client_id="latency")
    watch(page)
    live_server.sandbox.latency_s = 0.5  # slow enough to catch the checklist mid-test
    try:
        page.click(f"{region(page, connection)} button:has-text('Test Connection')")
        # Caught mid-test: the collections have been reached (read or being read), and
        # the test goes on (the server step follows them).
        page.wait_for_selector(f"{region(page, connection)}[data-state=testing] "
                               "[data-step=users]")
        page.screenshot(path=screenshots / "connection-testing.png", full_page=True)
        page.wait_for_selector(f"{region(page, connection)}[data-state=success]",
                               timeout=BUDGET_S * 1000 + 3000)
    finally:
        live_server.sandbox.latency_s = 0.0

    states = page.evaluate("window.__states")
    assert "testing" in states and states[-1] == "success"
    assert states.index("testing") < states.index("success")
    steps = step_states(page, connection)
    assert all(steps[entity] == "ok" for entity in ENTITIES), steps
    text = page.inner_text(region(page, connection))
    assert "Token and all five collections readable" in text
    assert "Test again" in text
    assert page.get_attribute(region(page, connection), "aria-live") == "polite"
    # The fast poll stopped; the idle region only asks now and then for news.
    assert page.get_attribute(region(page, connection), "hx-trigger") == "every 5s"
    assert_not_reloaded(page)
    page.screenshot(path=screenshots / "connection-success.png", full_page=True)

    # The result stays: it is shown again when the page is opened later.
    page.reload()
    assert "Token and all five collections readable" in page.inner_text(region(page, connection))


def test_wrong_secret_in_the_form_shows_authentication_advice(signed_in, screenshots):
    page = signed_in
    open_form(page)
    page.fill("#connection-form-name", "Typed but not saved")
    page.fill("#connection-form-client_secret", "not-the-right-secret")
    watch(page)
    page.click("#test-status-form button:has-text('Test Connection')")
    page.wait_for_selector("#test-status-form[data-state=error]", timeout=VERDICT_MS)

    text = page.inner_text("#test-status-form")
    assert "Authentication Failed" in text
    for advice in ("Verify Client ID and Secret are correct",
                   "Check credentials haven't expired", "Ensure API access is enabled"):
        assert advice in text
    assert "not-the-right-secret" not in page.content()
    assert page.input_value("#connection-form-name") == "Typed but not saved"
    assert "testing" in page.evaluate("window.__states")
    assert_not_reloaded(page)
    page.locator("#test-status-form").screenshot(path=screenshots / "connection-form-error.png")
    # Nothing was saved by testing.
    page.goto("/connections/")
    assert "Typed but not saved" not in page.content()


def test_unreachable_base_url_times_out_within_the_budget(signed_in, live_server, silent_port):
    page = signed_in
    open_form(page, provider="custom")
    page.fill("#connection-form-name", "Silent server")
    page.fill("#connection-form-base_url",
              f"http://127.0.0.1:{silent_port}/ims/oneroster/rostering/v1p2")
    page.fill("#connection-form-client_id", "demo")
    page.fill("#connection-form-client_secret", SANDBOX_SECRET)
    page.fill("#connection-form-auth_url", f"{live_server.url}/sandbox/oauth/token")
    connection = save(page)
    watch(page)
    started = time.monotonic()
    page.click(f"{region(page, connection)} button:has-text('Test Connection')")
    page.wait_for_selector(f"{region(page, connection)}[data-state=error]",
                           timeout=(BUDGET_S + 5) * 1000)
    elapsed = time.monotonic() - started

    assert elapsed < BUDGET_S + 2.5, f"took {elapsed:.1f} s with a {BUDGET_S} s budget"
    text = page.inner_text(region(page, connection))
    assert "Connection Timeout" in text
    assert "Verify the Base URL is correct" in text
    assert "Check network allows outbound HTTPS" in text
    assert "testing" in page.evaluate("window.__states")
    assert_not_reloaded(page)


def test_profile_without_demographics_still_passes(signed_in):
    page = signed_in
    connection = create_sandbox_connection(page, "No demographics", "no-demographics")
    watch(page)
    page.click(f"{region(page, connection)} button:has-text('Test Connection')")
    page.wait_for_selector(f"{region(page, connection)}[data-state=success]", timeout=VERDICT_MS)
    text = page.inner_text(region(page, connection))
    assert "Not granted: roster-demographics.readonly" in text
    assert all(state == "ok" for step, state in step_states(page, connection).items()
               if step in ENTITIES)
    assert_not_reloaded(page)


def test_profile_forbidding_enrollments_fails_naming_the_scope(signed_in, screenshots):
    page = signed_in
    connection = create_sandbox_connection(page, "No enrollments", "no-enrollments")
    watch(page)
    page.click(f"{region(page, connection)} button:has-text('Test Connection')")
    page.wait_for_selector(f"{region(page, connection)}[data-state=error]", timeout=VERDICT_MS)
    text = page.inner_text(region(page, connection))
    assert "Access forbidden" in text and "at step Enrollments" in text
    assert "roster.readonly" in text
    assert "Ask the SIS administrator to grant the missing scope" in text
    assert step_states(page, connection)["enrollments"] == "failed"
    assert_not_reloaded(page)
    page.screenshot(path=screenshots / "connection-error.png", full_page=True)


def test_list_badges_follow_a_test_started_from_the_list(signed_in, screenshots):
    page = signed_in
    page.set_viewport_size({"width": 1440, "height": 720})
    passing = create_sandbox_connection(page, "District SIS (sandbox)", "latency")
    failing = create_sandbox_connection(page, "Enrollments locked", "no-enrollments")
    untested = create_sandbox_connection(page, "Not tested yet", "demo")
    page.goto("/connections/")
    watch(page)
    for connection in (passing, failing):
        page.click(f"#connection-{connection} button:has-text('Test')")
    page.wait_for_selector(f"#connection-badge-{passing} [data-status=success]", timeout=VERDICT_MS)
    page.wait_for_selector(f"#connection-badge-{failing} [data-status=error]", timeout=VERDICT_MS)

    assert page.inner_text(f"#connection-badge-{passing}").strip() == "Success"
    assert "Access forbidden" in page.inner_text(f"#connection-badge-{failing}")
    assert page.get_attribute(f"#connection-badge-{passing}", "hx-trigger") \
        == f"connection-{passing}-test from:body"  # no longer polling
    for connection in (passing, failing):  # the Last tested column follows without a reload
        page.wait_for_selector(f"#connection-{connection}-tested time", timeout=5000)
    assert page.inner_text(f"#connection-{passing}-tested").endswith("UTC")
    assert "Never" in page.inner_text(f"#connection-{untested}-tested")
    assert_not_reloaded(page)
    page.screenshot(path=screenshots / "connections-list.png", full_page=True)


def test_a_connection_selector_follows_a_test_of_the_chosen_connection(signed_in):
    from tests.e2e.test_flows_e2e import start_wizard

    page = signed_in
    connection = create_sandbox_connection(page, "Chosen in the wizard", "latency")
    start_wizard(page)
    select = page.locator(".connection-selector select").first
    select.select_option(str(connection))
    page.wait_for_selector(f".selector-status #connection-badge-{connection} "
                           "[data-status=configured]")
    watch(page)
    page.click(".selector-status button:has-text('Test Connection')")
    page.wait_for_selector(f"#connection-badge-{connection} [data-status=success]",
                           timeout=VERDICT_MS)
    expect(page.locator(f"option[value='{connection}']")).to_have_text(
        re.compile(r"Success\s*$"), timeout=5000)
    assert select.evaluate("s => s.value") == str(connection)
    assert_not_reloaded(page)


def test_a_running_test_can_be_cancelled(signed_in, live_server, tmp_path):
    page = signed_in
    connection = create_sandbox_connection(page, "Cancelled sandbox", client_id="latency")
    watch(page)
    live_server.sandbox.latency_s = 1.5  # every answer takes longer than the cancel
    try:
        page.click(f"{region(page, connection)} button:has-text('Test Connection')")
        page.wait_for_selector(f"{region(page, connection)}[data-state=testing] "
                               "button:has-text('Cancel test')")
        page.screenshot(path=tmp_path / "connection-testing-cancel.png", full_page=True)
        page.click(f"{region(page, connection)} button:has-text('Cancel test')")
        page.wait_for_selector(f"{region(page, connection)}[data-state=configured]",
                               timeout=BUDGET_S * 1000)
    finally:
        live_server.sandbox.latency_s = 0.0
    text = page.inner_text(region(page, connection))
    assert "A test was cancelled by" in text
    assert "before it finished: the connection has still not been tested" in text
    assert "Test Connection" in text
    # The fast poll stopped; the idle region only asks now and then for news.
    assert page.get_attribute(region(page, connection), "hx-trigger") == "every 5s"
    assert page.evaluate("window.__states")[-2:] == ["testing", "configured"]
    assert_not_reloaded(page)
    page.screenshot(path=tmp_path / "connection-cancelled.png", full_page=True)
