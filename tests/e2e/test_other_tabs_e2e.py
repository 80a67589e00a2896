"""Verdicts reached elsewhere reach every open page: another tab, another person.

One browser context tests a connection; another, opened before, shows the connection's page
and the wizard's connection selector. Neither is reloaded; both learn the verdict from a
light poll of the connection's signature.
"""

from __future__ import annotations

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import sign_up
from tests.e2e.test_flows_e2e import create_sandbox_connection, start_wizard

POLL_S = 5  # how often an idle page asks whether anything changed


def test_a_test_finished_in_one_browser_updates_the_others(browser, live_server):
    tester_context = browser.new_context(base_url=live_server.url)
    viewer_context = browser.new_context(base_url=live_server.url)
    try:
        tester = sign_up(tester_context.new_page())
        connection = create_sandbox_connection(tester, "Shared SIS", "demo")
        other = create_sandbox_connection(tester, "Other SIS", "demo")  # listed, not chosen
        viewer_context.add_cookies(tester_context.cookies())  # the same account elsewhere
        page = viewer_context.new_page()
        page.goto(f"/connections/{connection}")
        page.wait_for_selector(f"#test-status-{connection}[data-state=configured]")
        selector_page = viewer_context.new_page()
        start_wizard(selector_page)
        selector_page.locator(".connection-selector select").first.select_option(
            str(connection))
        selector_page.wait_for_selector(
            f".selector-status #connection-badge-{connection} [data-status=configured]")
        for watched in (page, selector_page):
            watched.evaluate("window.__marker = 'still-here'")

        tester.goto("/connections/")
        for tested in (connection, other):
            tester.click(f"#connection-{tested} button:has-text('Test')")
        for tested in (connection, other):
            tester.wait_for_selector(f"#connection-badge-{tested} [data-status=success]",
                                     timeout=30_000)

        wait_ms = (POLL_S * 2 + 4) * 1000
        page.wait_for_selector(f"#test-status-{connection}[data-state=success]",
                               timeout=wait_ms)
        selector_page.wait_for_selector(
            f".selector-status #connection-badge-{connection} [data-status=success]",
            timeout=wait_ms)
        for tested in (connection, other):
            selector_page.wait_for_selector(
                f"option[value='{tested}'][data-status=success]", state="attached",
                timeout=wait_ms)
        assert selector_page.locator(".connection-selector select").first.input_value() \
            == str(connection)  # the choice is kept
        for watched in (page, selector_page):
            assert watched.evaluate("window.__marker") == "still-here", "the page reloaded"
        assert_accessible(page, "the connection page after a verdict reached elsewhere")
    finally:
        tester_context.close()
        viewer_context.close()


def test_a_hidden_page_does_not_poll(signed_in):
    page = signed_in
    connection = create_sandbox_connection(page, "Quiet SIS", "demo")
    page.goto(f"/connections/{connection}")
    page.wait_for_selector(f"#test-status-{connection}[data-state=configured]")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url)
            if f"/connections/{connection}/test" in request.url else None)
    hide = ("hidden => Object.defineProperty(document, 'hidden', "
            "{value: hidden, configurable: true})")
    page.evaluate(hide, True)
    page.wait_for_timeout((POLL_S + 2) * 1000)
    assert asked == [], "a hidden page kept polling"
    page.evaluate(hide, False)
    page.wait_for_timeout((POLL_S + 2) * 1000)
    assert asked, "the page did not poll again once shown"
