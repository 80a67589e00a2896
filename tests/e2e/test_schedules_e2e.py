"""Schedules in a real browser: set one in the wizard's last step, see the next run time."""

from __future__ import annotations

import re

from tests.e2e.test_flows_e2e import assert_not_reloaded, mark, swapped_in


def test_wizard_sets_a_schedule_and_the_flow_shows_its_next_run(signed_in, screenshots):
    page = signed_in
    page.goto("/flows/")
    page.click("button:has-text('New flow (wizard)')")
    swapped_in(page, "#wizard[data-step=source]")
    mark(page)
    page.click("[data-plugin=source-test-data]")
    swapped_in(page, "#wizard[data-step=configure]")
    page.fill("#wizard-configure-form [name=classes]", "3")
    page.dispatch_event("#wizard-configure-form [name=classes]", "change")
    page.wait_for_selector("#preflight-source-1[data-status=passed]", timeout=30_000)
    page.click("#preflight-source-1 button.next")
    swapped_in(page, "#wizard[data-step=options]")
    page.click("#wizard button.next")
    swapped_in(page, "#wizard[data-step=preview]", timeout=15_000)
    page.click("#wizard button.next")
    swapped_in(page, "#wizard[data-step=save]")
    assert_not_reloaded(page)

    assert page.input_value("#wizard-save-form-timezone") == "Europe/Warsaw"
    page.fill("#wizard-save-form-name", "Nightly roster")
    page.check("input[name=cadence][value=every]")
    page.fill("#wizard-save-form-every_days", "31")
    page.fill("#wizard-save-form-at", "02:00")
    page.click("button:has-text('Save flow')")
    page.wait_for_selector("[data-field=every_days]")
    assert "from 2 to 30" in page.inner_text("[data-field=every_days]")

    page.check("input[name=cadence][value=daily]")
    page.locator("#wizard-save-form").screenshot(path=screenshots / "flow-wizard-schedule.png")
    page.click("button:has-text('Save flow')")
    page.wait_for_url(re.compile(r"/flows/\d+$"))
    status = page.inner_text("[data-testid=schedule-status]")
    assert re.search(r"Next run (tonight|today|tomorrow) at 02:00 CES?T", status), status
    assert "Daily at 02:00 (Europe/Warsaw)" in status
    page.screenshot(path=screenshots / "flow-page-schedule.png", full_page=True)

    page.goto("/flows/")
    listed = page.inner_text("tr:has-text('Nightly roster') [data-testid=flow-schedule]")
    assert re.search(r"Next run \w+ at 02:00 CES?T", listed), listed
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=screenshots / "flows-list-phone.png", full_page=True)
