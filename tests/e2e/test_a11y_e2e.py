"""What a screen reader hears: controls announced as what they are; a way past the top bar."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.axe import assert_accessible


def test_the_wizard_source_cards_are_buttons_in_a_list(signed_in):
    page = signed_in
    page.goto("/flows/")
    page.click("button:has-text('New flow (wizard)')")
    page.wait_for_selector("#wizard[data-step=source]")
    cards = page.get_by_role("list").filter(has=page.locator("[data-plugin]"))
    assert cards.count() == 1
    items = cards.get_by_role("listitem")
    assert items.count() >= 2
    for index in range(items.count()):
        item = items.nth(index)
        assert item.get_by_role("button").count() == 1, item.inner_html()
    oneroster = page.get_by_role("button", name=re.compile("OneRoster API"))
    assert oneroster.count() == 1
    assert_accessible(page, "the wizard's Source step")
    oneroster.click()
    page.wait_for_selector("#wizard[data-step=configure]")


def test_every_page_has_a_skip_link_to_its_content(signed_in):
    page = signed_in
    for url in ("/connections/", "/connections/new", "/flows/", "/runs/", "/orgs/members",
                "/orgs/audit", "/notifications/", "/account/password"):
        page.goto(url)
        skip = page.locator("a.skip-link")
        assert skip.count() == 1, url
        assert skip.get_attribute("href") == "#main", url
        assert page.locator("#main").count() == 1, url
    page.context.clear_cookies()
    for url in ("/login", "/signup"):
        page.goto(url)
        assert page.locator("a.skip-link[href='#main']").count() == 1, url
        assert page.locator("#main").count() == 1, url


def test_the_account_menu_signs_out_and_leads_to_the_password_page(signed_in):
    page = signed_in
    page.goto("/flows/")
    page.click("header.topbar details.account-menu > summary")
    page.get_by_role("link", name="Change password").click()
    page.wait_for_url("**/account/password")
    assert_accessible(page, "the change-password page")
    page.click("header.topbar details.account-menu > summary")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")


def test_a_kept_secret_field_is_marked_invalid_with_the_others(signed_in):
    """The secret input survives swaps (hx-preserve); its invalid state must follow too, and
    the messages go once the values are accepted."""
    page = signed_in
    page.goto("/connections/new")
    if page.input_value("#connection-form-provider") != "custom":
        with page.expect_response(lambda r: "/connections/new?" in r.url):
            page.select_option("#connection-form-provider", "custom")
        expect(page.locator("#connection-form-provider")).to_have_value("custom")
    page.click("#connection-form button:has-text('Test Connection')")
    page.wait_for_selector("#connection-form-client_secret-error")
    for field in ("base_url", "client_id", "client_secret"):
        expect(page.locator(f"#connection-form-{field}")).to_have_attribute(
            "aria-invalid", "true")
    expect(page.locator("#connection-form-client_secret")).to_have_attribute(
        "aria-describedby", "connection-form-client_secret-error")
    page.fill("#connection-form-client_secret", "typed now")
    page.fill("#connection-form-client_id", "sdm")
    page.fill("#connection-form-base_url", "http://127.0.0.1:9/ims/oneroster/rostering/v1p2")
    page.click("#connection-form button:has-text('Test Connection')")
    page.locator("#connection-form-client_secret-error").wait_for(state="detached")
    # Once the values are accepted, no message of the earlier refusal stays on the form.
    for field in ("base_url", "client_id", "client_secret"):
        expect(page.locator(f"#connection-form-{field}")).not_to_have_attribute(
            "aria-invalid", "true")
    assert page.locator("#connection-form .field-error, [data-form-errors]").count() == 0
    assert page.input_value("#connection-form-client_secret") == "typed now"
