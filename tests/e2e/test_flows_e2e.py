"""Flows in a real browser against the sandbox SIS: the wizard, Create New Connection inside
it, a run with exactly the sandbox's counts and a CSV bundle to match, the editor's merge.

The wizard's steps are htmx swaps: a marker set on `window` before the first step must still
be there at the last, or the page reloaded.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile

from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.axe import assert_accessible
from webapp.extensions import db
from webapp.models import Run, RunRecord

ENTITIES = ("orgs", "courses", "classes", "users", "enrollments")
CSV_FILES = {"orgs": "orgs.csv", "courses": "courses.csv", "classes": "classes.csv",
             "users": "users.csv", "enrollments": "enrollments.csv"}


def create_sandbox_connection(page, name: str, client_id: str = "demo") -> int:
    """Save a connection to the in-app sandbox through the connection form; return its id."""
    page.goto("/connections/new")
    if page.input_value("#connection-form-provider") != "sandbox":
        with page.expect_response(lambda r: "/connections/new?" in r.url):
            page.select_option("#connection-form-provider", "sandbox")
        expect(page.locator("#connection-form-provider")).to_have_value("sandbox")
    page.fill("#connection-form-name", name)
    page.fill("#connection-form-client_id", client_id)
    page.click("#connection-form button[type=submit]:has-text('Save connection')")
    page.wait_for_url(re.compile(r"/connections/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def swapped_in(page, selector: str, timeout: float = 30_000) -> None:
    """Wait for `selector`, then for htmx to bind what it swapped in.

    htmx processes new content when it settles, a moment after inserting it: an event fired
    in between (a select changed at machine speed) would find nothing listening.
    """
    page.wait_for_selector(selector, timeout=timeout)
    page.locator(".htmx-added, .htmx-settling").first.wait_for(state="detached",
                                                               timeout=timeout)


def mark(page) -> None:
    page.evaluate("window.__marker = 'still-here'")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.__marker") == "still-here", "the page reloaded"


def assert_address(page, step: str) -> None:
    """The address bar names the step on screen (htmx updates it once the swap settles)."""
    page.wait_for_url(re.compile(rf"/{re.escape(step)}$"), timeout=5_000)


def start_wizard(page) -> None:
    page.goto("/flows/")
    page.click("button:has-text('New flow (wizard)')")
    swapped_in(page, "#wizard[data-step=source]")
    assert_accessible(page, "the wizard's Source step")
    mark(page)
    page.click("[data-plugin=source-oneroster]")
    swapped_in(page, "#wizard[data-step=configure]")
    assert re.search(r"/flows/wizard/\d+/configure$", page.url)
    assert_accessible(page, "the wizard's Configure step")


def wait_for_preflight(page) -> None:
    page.wait_for_selector("#preflight-source-1[data-status=passed]", timeout=15_000)
    for entity in ENTITIES:
        assert page.get_attribute(f"#preflight-source-1 [data-step={entity}]",
                                  "data-state") == "ok"


def finish_wizard(page, name: str, sandbox_counts: dict[str, int]) -> None:
    """Options, Preview (checking the counts), then Save and run now."""
    page.click("#preflight-source-1 button.next")
    swapped_in(page, "#wizard[data-step=options]")
    assert_address(page, "options")
    assert_accessible(page, "the wizard's Options step")
    assert page.locator("input[name=entities]:checked").count() == 5
    page.click("#wizard button.next")
    swapped_in(page, "#wizard[data-step=preview]", timeout=15_000)
    assert_address(page, "preview")
    assert_accessible(page, "the wizard's Preview step")
    for entity in ENTITIES:
        shown = page.inner_text(f".preview-counts tr[data-entity={entity}] td.nowrap")
        assert shown.replace(",", "") == str(sandbox_counts[entity])
    page.click("#wizard button.next")
    swapped_in(page, "#wizard[data-step=save]")
    assert_address(page, "save")
    assert_accessible(page, "the wizard's Output and save step")
    assert_not_reloaded(page)
    page.fill("#wizard-save-form-name", name)
    page.click("button:has-text('Save and run now')")
    page.wait_for_url(re.compile(r"/runs/\d+$"))


def bulk_rows(live_server, entity: str) -> int:
    """Return how many rows a bulk CSV of the sandbox's collection holds: no tobedeleted."""
    records = live_server.sandbox.district.records(entity, "")
    return sum(1 for r in records if r.get("status") != "tobedeleted")


def check_run(page, live_server, sandbox_counts: dict[str, int]) -> None:
    """Wait for the run to complete; its counts and its CSV bundle match the sandbox."""
    page.wait_for_selector("#run-progress[data-status^=completed]", timeout=60_000)
    for entity in ENTITIES:
        shown = page.inner_text(f"td[data-entity={entity}]").replace(",", "")
        assert shown == str(sandbox_counts[entity]), entity
    run_id = int(page.url.rsplit("/", 1)[1])
    response = page.request.get(f"/runs/{run_id}/download")
    assert response.ok
    bundle = zipfile.ZipFile(io.BytesIO(response.body()))
    for entity, filename in CSV_FILES.items():
        rows = list(csv.reader(io.StringIO(bundle.read(filename).decode("utf-8-sig"))))
        assert len(rows) - 1 == bulk_rows(live_server, entity), filename


def test_wizard_with_an_existing_connection_runs_to_the_sandbox_counts(signed_in, live_server,
                                                                        screenshots):
    page = signed_in
    counts = live_server.sandbox.district.counts()
    connection = create_sandbox_connection(page, "Springfield sandbox")
    start_wizard(page)
    page.screenshot(path=str(screenshots / "flow-wizard-configure.png"), full_page=True)
    page.select_option("#source-1-connection-select", str(connection))
    wait_for_preflight(page)
    assert page.is_enabled("#preflight-source-1 button.next")
    assert_accessible(page, "the wizard's passed pre-flight")
    page.screenshot(path=str(screenshots / "flow-wizard-preflight.png"), full_page=True)
    # The browser's Back button returns to the previous step, as a whole page.
    page.click("#preflight-source-1 button.next")
    swapped_in(page, "#wizard[data-step=options]")
    assert_address(page, "options")
    page.go_back()
    swapped_in(page, "#wizard[data-step=configure]")
    assert_address(page, "configure")
    assert page.locator("header.topbar").count() == 1
    assert page.input_value("#source-1-connection-select") == str(connection)
    wait_for_preflight(page)
    finish_wizard(page, "Springfield nightly", counts)
    check_run(page, live_server, counts)
    page.wait_for_selector("[data-testid=delete-run]")  # the bundle is written: all settled
    page.screenshot(path=str(screenshots / "run-completed.png"), full_page=True)
    run_url = page.url
    page.goto(f"{run_url}/data?entity=users")
    page.wait_for_selector("#run-data-table table")
    page.screenshot(path=str(screenshots / "run-data.png"), full_page=True)
    page.goto(run_url)
    page.click("a:has-text('Springfield nightly')")
    page.wait_for_selector("[data-testid=flow-graph]")
    page.screenshot(path=str(screenshots / "flow-page.png"), full_page=True)
    page.goto("/flows/")
    page.screenshot(path=str(screenshots / "flows-list.png"), full_page=True)


def test_wizard_creates_a_new_connection_inline(signed_in, live_server):
    page = signed_in
    counts = live_server.sandbox.district.counts()
    start_wizard(page)
    assert page.is_disabled("#preflight-source-1 button.next")
    page.click("#source-1-connection .create-connection")
    form = "#source-1-connection-form"
    swapped_in(page, f"#source-1-connection-new {form}")
    if page.input_value(f"{form}-provider") != "sandbox":
        with page.expect_response(lambda r: "/connections/new?" in r.url):
            page.select_option(f"{form}-provider", "sandbox")
        expect(page.locator(f"{form}-provider")).to_have_value("sandbox")
    page.fill(f"{form}-name", "Created in the wizard")
    page.click(f"{form} button[type=submit]:has-text('Save connection')")
    # The new connection appears selected, and the step checks it, without a reload.
    expect(page.locator("#source-1-connection-select option:checked")).to_contain_text(
        "Created in the wizard")
    wait_for_preflight(page)
    assert_not_reloaded(page)
    finish_wizard(page, "Created inline", counts)
    check_run(page, live_server, counts)


def test_failing_preflight_keeps_next_disabled_and_offers_a_way_on(signed_in):
    page = signed_in
    connection = create_sandbox_connection(page, "Forbidden enrollments",
                                           client_id="no-enrollments")
    start_wizard(page)
    page.select_option("#source-1-connection-select", str(connection))
    page.wait_for_selector("#preflight-source-1[data-status=failed]", timeout=15_000)
    assert page.is_disabled("#preflight-source-1 button.next")
    reason = page.inner_text("[data-testid=preflight-errors]")
    assert "Enrollments" in reason
    assert_accessible(page, "the wizard's failed pre-flight")
    # The way on: leave the closed collection out, and the pre-flight checks the rest.
    page.click("[data-testid=continue-without]")
    page.wait_for_selector("#preflight-source-1[data-status=passed]", timeout=15_000)
    assert page.locator("#preflight-source-1 [data-step=enrollments]").count() == 0
    page.click("#preflight-source-1 button.next")
    swapped_in(page, "#wizard[data-step=options]")
    assert not page.is_checked("input[name=entities][value=enrollments]")
    assert page.is_checked("input[name=entities][value=users]")
    assert_not_reloaded(page)


def test_editor_merges_two_sources_with_the_chosen_precedence(signed_in, live_server,
                                                             screenshots):
    page = signed_in
    north = create_sandbox_connection(page, "North sandbox")
    south = create_sandbox_connection(page, "South sandbox", client_id="no-demographics")
    page.goto("/flows/")
    page.click("button:has-text('New flow (advanced editor)')")
    swapped_in(page, "#editor")
    mark(page)
    for node, connection, label in (("source-1", north, "North"), ("source-2", south, "South")):
        page.select_option(".add-source select", "source-oneroster")
        page.click(".add-source button")
        swapped_in(page, f"#panel-{node}")
        page.fill(f"#panel-{node}-label", label)
        page.select_option(f"#{node}-connection-select", str(connection))
        page.click(f"#panel-{node} button:has-text('Apply')")
        page.wait_for_selector(f".graph-node[data-node={node}] .graph-title:has-text('{label}')")
    page.click("button:has-text('Add merge')")
    swapped_in(page, "[data-testid=precedence]")
    page.click("[data-testid=precedence] li[data-node=source-2] button[value=up]")
    page.wait_for_selector("[data-testid=precedence] li:first-child[data-node=source-2]")
    page.click(".validate button")
    page.wait_for_selector("[data-testid=graph-ok]")
    page.wait_for_selector(".graph-node.preflight-passed[data-node=source-1]", timeout=15_000)
    page.wait_for_selector(".graph-node.preflight-passed[data-node=source-2]", timeout=15_000)
    page.click(".graph-node[data-node=merge]")
    swapped_in(page, "[data-testid=precedence]")
    page.screenshot(path=str(screenshots / "flow-editor-merge.png"), full_page=True)
    assert_not_reloaded(page)
    page.fill("#editor-name", "North and South")
    page.click(".editor-save button")
    page.wait_for_url(re.compile(r"/flows/\d+$"))
    page.click("button.run-now")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    page.wait_for_selector("#run-progress[data-status]:not([data-status=queued])"
                           ":not([data-status=running])", timeout=60_000)
    run_id = int(page.url.rsplit("/", 1)[1])
    counts = live_server.sandbox.district.counts()
    with live_server.app.app_context():
        run = db.session.get(Run, run_id)
        assert [s["node"] for s in run.sources] == ["source-2", "source-1"]
        for entity in ENTITIES:
            assert run.counts[entity] == counts[entity]
        # Both sources read the same district: every record overlaps, and South's wins.
        ranks = set(db.session.scalars(select(RunRecord.source_rank).where(
            RunRecord.run_id == run_id, RunRecord.superseded.is_(False))))
        assert ranks == {0}
        losers = db.session.scalar(select(db.func.count()).select_from(RunRecord).where(
            RunRecord.run_id == run_id, RunRecord.superseded.is_(True)))
        assert losers == sum(counts[e] for e in run.counts)  # academic sessions too


def add_editor_source(page, node: str, connection: int, label: str | None = None) -> None:
    """Add a OneRoster source in the editor and choose its connection."""
    page.select_option(".add-source select", "source-oneroster")
    page.click(".add-source button")
    swapped_in(page, f"#panel-{node}")
    if label:
        page.fill(f"#panel-{node}-label", label)
    page.select_option(f"#{node}-connection-select", str(connection))
    page.click(f"#panel-{node} button:has-text('Apply')")
    # Applied: the node is named after its label, or else its connection.
    page.wait_for_selector(
        f".graph-node[data-node={node}] .graph-detail:not(:has-text('connection'))")
    swapped_in(page, f".graph-node[data-node={node}]")


def merge_and_validate(page, first: int, second: int) -> None:
    """In a new advanced-editor flow, merge two connections' sources and validate it."""
    page.goto("/flows/")
    page.click("button:has-text('New flow (advanced editor)')")
    swapped_in(page, "#editor")
    add_editor_source(page, "source-1", first)
    add_editor_source(page, "source-2", second)
    page.click("button:has-text('Add merge')")
    swapped_in(page, "[data-testid=precedence]")
    page.click(".validate button")


def test_editor_validation_settles_when_the_last_preflight_ends(signed_in, live_server):
    page = signed_in
    demo = create_sandbox_connection(page, "Demo sandbox")
    slow = create_sandbox_connection(page, "Latency sandbox", client_id="latency")
    merge_and_validate(page, demo, slow)
    page.wait_for_selector("[data-testid=graph-ok]")
    assert_accessible(page, "the editor while its pre-flights run")
    for node in ("source-1", "source-2"):
        page.wait_for_selector(f".graph-node.preflight-passed[data-node={node}]", timeout=30_000)
    # The banner follows the picture: no "running" once both nodes show their verdict.
    expect(page.locator("[data-testid=graph-ok]")).not_to_contain_text("running",
                                                                      timeout=5_000)
    banner = page.inner_text("[data-testid=graph-ok]")
    assert "every source's pre-flight passed" in banner
    # Both sources read OneRoster: each is named by its connection, not twice "OneRoster API".
    titles = page.locator(".graph-source .graph-title").evaluate_all(
        "texts => texts.map(t => t.textContent.trim())")
    assert titles == ["Demo sandbox", "Latency sandbox"]
    assert_accessible(page, "the editor once its pre-flights passed")


def test_the_editor_works_on_a_phone(phone, live_server, screenshots):
    from tests.e2e.conftest import sign_up
    from tests.e2e.test_pages_e2e import assert_fits

    page = sign_up(phone)
    north = create_sandbox_connection(page, "North sandbox")
    south = create_sandbox_connection(page, "South sandbox")
    merge_and_validate(page, north, south)
    for node in ("source-1", "source-2"):
        page.wait_for_selector(f".graph-node.preflight-passed[data-node={node}]", timeout=30_000)
    assert_fits(page, "the editor on a phone")
    assert_accessible(page, "the editor on a phone")
    # The picture keeps a readable size (it scrolls sideways) and a node opens its panel.
    box = page.locator(".graph-node[data-node=source-2] rect").bounding_box()
    assert box["width"] >= 150
    page.locator(".graph-node[data-node=source-2]").tap()
    swapped_in(page, "#panel-source-2")
    page.screenshot(path=str(screenshots / "phone-editor-merge.png"), full_page=True)
