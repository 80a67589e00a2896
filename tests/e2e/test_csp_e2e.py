"""The pages and their htmx behaviour work under the Content-Security-Policy, with no report."""

from __future__ import annotations

import os

from tests.e2e.conftest import PASSWORD, finish_sign_up


def test_htmx_pages_run_under_the_policy_without_violations(strict_page, live_server):
    page = strict_page
    page.goto("/signup")
    page.fill("#name", "Cora Policy")
    page.fill("#email", f"cora-{os.getpid()}@example.com")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.fill("#organization", "Policy District")
    finish_sign_up(page)
    # A template switch swaps the form in with htmx.
    page.goto("/connections/new")
    with page.expect_response(lambda r: "/connections/new?" in r.url):
        page.select_option("#connection-form-provider", "sandbox")
    page.wait_for_selector("#connection-form-provider >> option[value=sandbox]:checked",
                           state="attached")
    # A refused embedded form (422) is swapped in by static/app.js, not by inline code.
    page.goto("/flows/")
    page.click("form[action='/flows/wizard'] button[type=submit]")
    page.wait_for_url("**/wizard/**")
    page.goto("/orgs/members")
    page.fill("#email", "someone@example.com")
    page.click("form[action='/orgs/members'] button[type=submit]")
    page.wait_for_selector("[data-select-on-focus]")
    page.wait_for_load_state()  # app.js, deferred, listens once the page has loaded
    page.focus("[data-select-on-focus]")
    selected = page.evaluate("() => window.getSelection().toString().length")
    assert selected > 0  # the invite link selects itself: app.js ran under the policy
    assert page.violations == []


def _inline_script_ran(page) -> bool:
    page.goto("/login")
    page.evaluate("""() => {
      const script = document.createElement("script");
      script.textContent = "window.__inline = 'ran'";
      document.body.appendChild(script);
    }""")
    return page.evaluate("window.__inline === 'ran'")


def test_every_browser_page_enforces_the_policy(page, phone):
    """No fixture skips the policy: an inline script is refused on desktop and phone pages."""
    for each in (page, phone):
        assert not _inline_script_ran(each)
        assert any("Content Security Policy" in v for v in each.violations)
        each.violations.clear()  # this refusal was the point
