"""What a screen reader hears: controls announced as what they are; a way past the top bar."""

from __future__ import annotations

import re

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
