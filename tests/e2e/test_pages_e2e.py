"""Every page at desktop and phone widths: no serious accessibility violation (axe-core), no
sideways scrolling on a phone, Sign out within reach, and a screenshot of each to look at.
"""

from __future__ import annotations

import os
import re

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import PASSWORD, PHONE, sign_up
from tests.e2e.test_flows_e2e import (
    check_run,
    create_sandbox_connection,
    finish_wizard,
    start_wizard,
    wait_for_preflight,
)
from tests.fixtures.mailbox import confirmation_path, mailbox


def assert_fits(page, where: str) -> None:
    """Nothing makes the page wider than the window; the account menu is on screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    window = page.viewport_size["width"]
    assert width <= window, f"{where} is {width} px wide in a {window} px window"
    account = page.locator("header.topbar details.account-menu > summary")
    if account.count():
        box = account.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= window, \
            f"the account menu (Sign out, Change password) is off screen on {where}"


# The pictures of the walk that the README shows; the others go to the test's own folder.
README_PICTURES = {"phone-connections", "phone-run"}


def visit(page, url: str, name: str, screenshots, elsewhere, wait: str = "main") -> None:
    page.goto(url)
    page.wait_for_selector(wait)
    page.wait_for_load_state("networkidle")
    assert_accessible(page, f"{url} ({name})")
    assert_fits(page, url)
    folder = screenshots if name in README_PICTURES else elsewhere
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_every_page_is_accessible_and_fits_a_phone(signed_in, phone, live_server, screenshots,
                                                    tmp_path):
    page = signed_in
    counts = live_server.sandbox.district.counts()
    connection = create_sandbox_connection(page, "Springfield sandbox")
    start_wizard(page)
    page.select_option("#source-1-connection-select", str(connection))
    wait_for_preflight(page)
    finish_wizard(page, "Springfield nightly", counts)
    check_run(page, live_server, counts)
    page.wait_for_selector("[data-testid=delete-run]")
    run_url = page.url.removeprefix(live_server.url)
    page.click("a:has-text('Springfield nightly')")
    page.wait_for_url(re.compile(r"/flows/\d+$"))
    flow_url = page.url.removeprefix(live_server.url)
    page.goto("/flows/")
    page.click("button:has-text('New flow (advanced editor)')")
    page.wait_for_selector("#editor")
    editor_url = page.url.removeprefix(live_server.url)
    page.goto("/flows/")
    page.click("button:has-text('New flow (wizard)')")
    page.wait_for_selector("#wizard[data-step=source]")
    wizard_url = page.url.removeprefix(live_server.url)

    phone.context.add_cookies(page.context.cookies())
    pages = [
        ("/connections/", "connections"), ("/connections/new", "connection-new"),
        (f"/connections/{connection}", "connection"),
        (f"/connections/{connection}/edit", "connection-edit"),
        (f"/connections/{connection}/delete", "connection-delete"),
        ("/flows/", "flows"), (wizard_url, "wizard-source"), (editor_url, "editor"),
        (flow_url, "flow"), (run_url, "run"), (f"{run_url}/data?entity=users", "run-data"),
        ("/orgs/members", "members"), ("/orgs/audit", "audit"), ("/orgs/new", "org-new"),
        ("/runs/", "activity"), ("/notifications/", "notifications"),
        ("/account/password", "change-password"),
    ]
    for url, name in pages:
        visit(page, url, f"desktop-{name}", screenshots, tmp_path)
        visit(phone, url, f"phone-{name}", screenshots, tmp_path)
    assert phone.viewport_size == PHONE
    # On the phone the run's collections are stacked cards: nothing there scrolls sideways.
    phone.goto(run_url)
    table, room = phone.evaluate("""() => {
        const table = document.querySelector('.run-collections');
        return [table.scrollWidth, table.parentElement.clientWidth]; }""")
    assert table <= room, f"the run's collections are {table} px wide in {room} px"
    assert phone.locator(".run-collections td[data-label=Records]").first.is_visible()


def test_signed_out_pages_are_accessible_and_fit_a_phone(page, phone, tmp_path):
    for url, name in (("/login", "login"), ("/signup", "signup")):
        visit(page, url, f"desktop-{name}", tmp_path, tmp_path)
        visit(phone, url, f"phone-{name}", tmp_path, tmp_path)
    # The sign-up's answer and the page its emailed link opens.
    phone.fill("#name", "Pat Phone")
    phone.fill("#email", f"pat-{os.getpid()}@example.com")
    phone.fill("#password", PASSWORD)
    phone.fill("#confirm", PASSWORD)
    phone.fill("#organization", "Phone District")
    with mailbox() as box:
        phone.click("button[type=submit]")
        phone.wait_for_selector("[data-testid=signup-sent]")
    assert_accessible(phone, "the sign-up's Check your email page")
    assert_fits(phone, "the sign-up's Check your email page")
    phone.screenshot(path=str(tmp_path / "phone-signup-sent.png"), full_page=True)
    link = confirmation_path(box)
    visit(page, link, "desktop-signup-confirm", tmp_path, tmp_path)
    visit(phone, link, "phone-signup-confirm", tmp_path, tmp_path)


def test_the_skip_link_is_the_first_stop_and_moves_focus_to_the_content(signed_in):
    page = signed_in
    page.goto("/flows/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to content"
    assert page.locator(".skip-link").bounding_box()["y"] >= 0  # visible once focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_the_one_time_invite_link_has_a_copy_button(browser, live_server, tmp_path):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = sign_up(context.new_page())
    try:
        page.goto("/orgs/members")
        page.fill("#email", "new.teacher@example.com")
        page.click("button:has-text('Add member')")
        page.wait_for_selector("#invite-link")
        link = page.input_value("#invite-link")
        assert "/invite/" in link
        assert_accessible(page, "the members page with a one-time invite link")
        assert_fits(page, "the members page with an invite link")
        page.click("button[data-copy=invite-link]")
        page.wait_for_selector("#invite-link-copied:has-text('Copied to the clipboard.')")
        assert page.evaluate("navigator.clipboard.readText()") == link
        page.screenshot(path=str(tmp_path / "phone-invite-link.png"), full_page=True)
    finally:
        context.close()
