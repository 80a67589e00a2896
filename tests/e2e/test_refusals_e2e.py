"""What a refused htmx request shows: the alert it sends, and the field it names."""

from __future__ import annotations

from tests.e2e.test_flows_e2e import swapped_in


def test_a_control_character_is_shown_next_to_the_field_that_holds_it(signed_in):
    page = signed_in
    page.goto("/flows/")
    page.click("button:has-text('New flow (advanced editor)')")
    swapped_in(page, "#editor")
    page.fill("#editor-name", "Nightly\x00merge")
    with page.expect_response(lambda r: r.url.endswith("/save")) as answer:
        page.click(".editor-save button[type=submit]")
    assert answer.value.status == 400

    message = page.locator("#editor-name-error")
    message.wait_for()
    assert "control character" in message.inner_text()
    name = page.locator("#editor-name")
    assert name.get_attribute("aria-invalid") == "true"
    assert name.get_attribute("aria-describedby") == "editor-name-error"
    assert name.input_value() == "Nightly\x00merge"  # nothing typed is lost
    # The page's alert region says which field, as it does for every refused htmx request.
    assert "“name”" in page.locator("#alerts").inner_text()

    page.fill("#editor-name", "Nightly merge")
    page.click(".editor-save button[type=submit]")
    page.wait_for_selector("#editor-name-error", state="detached", timeout=10_000)
