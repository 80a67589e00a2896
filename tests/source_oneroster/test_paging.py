"""Paging that survives real servers: totals, Link headers, clamped limits, no headers at all."""

from __future__ import annotations

import json
import threading
import time

import pytest
import responses

from oneroster.client import OneRosterClient
from oneroster.model import ENTITIES, Category
from oneroster.paging import parse_link, parse_total
from oneroster.parallel import PLANNED_PER_SLOT
from tests.source_oneroster.fake_sis import (
    BASE,
    Collect,
    Collection,
    respond,
    rows,
    serve,
    settings,
    token,
)


def fetch(s, entities=("users",), **kwargs):
    sink = Collect()
    with OneRosterClient(s) as client:
        result = client.fetch(entities, sink=sink, **kwargs)
    return result, sink


@pytest.mark.parametrize("header", [
    '<https://h/u?offset=10&limit=10>; rel="next", <https://h/u?offset=90&limit=10>; rel="last"',
    'https://h/u?offset=10&limit=10; rel="next", https://h/u?offset=90&limit=10; rel="last"',
    "https://h/u?offset=10&limit=10;rel=next,https://h/u?offset=90&limit=10;rel=last",
])
def test_link_headers_are_read_with_or_without_angle_brackets(header):
    links = parse_link(header)
    assert links == {"next": "https://h/u?offset=10&limit=10",
                     "last": "https://h/u?offset=90&limit=10"}


def test_link_urls_keep_commas_of_the_fields_parameter_and_resolve_relative_ones():
    links = parse_link('</u?fields=a,b&offset=5>; rel="next"', base="https://h/x/users")
    assert links == {"next": "https://h/u?fields=a,b&offset=5"}


@pytest.mark.parametrize(("value", "expected"), [("250", 250), (" 7 ", 7), ("many", None),
                                                 ("-1", None)])
def test_total_count_header(value, expected):
    assert parse_total({"X-Total-Count": value}) == expected
    assert parse_total({}) is None


def test_known_total_pages_are_fetched_side_by_side_and_streamed(http):
    token(http)
    users = serve(http, "users", Collection(rows("users", 950), delay_s=0.05))
    progress = []
    result, sink = fetch(settings(page_size=100, max_in_flight=4), progress=progress.append)
    assert result.ok
    assert sink.ids("users") == sorted(r["sourcedId"] for r in users.records)
    assert sink.calls == 10  # one sink call per page: nothing held back
    assert 2 <= users.peak <= 4  # side by side, never more than max_in_flight
    done = progress[-1]
    assert (done.state, done.fetched, done.total, done.pages) == ("done", 950, 950, 10)
    assert result.results["users"].total == 950


def test_silently_clamped_pages_are_followed_by_pages_of_the_served_size(http):
    token(http)
    users = serve(http, "users", Collection(rows("users", 1234), clamp=250))
    result, sink = fetch(settings(page_size=1000))
    assert result.ok and len(sink.ids("users")) == 1234
    limits = sorted({q["limit"] for q in users.requests[1:]})
    assert limits == ["250"]
    assert result.results["users"].pages == 5


def test_without_total_or_link_pages_go_one_by_one_and_a_short_page_is_the_end(http):
    token(http)
    users = serve(http, "users", Collection(rows("users", 730), total_header=False, link=None,
                                            clamp=100, delay_s=0.01))
    result, sink = fetch(settings(page_size=500))
    assert result.ok and not result.results["users"].warnings
    assert len(sink.ids("users")) == 730
    offsets = [int(q["offset"]) for q in users.requests]
    assert offsets == [0, 100, 200, 300, 400, 500, 600, 700]  # no page that cannot exist
    assert users.peak == 1  # without a total, speculative pages would be wasted requests
    assert result.results["users"].requests == 8


def test_without_total_a_full_last_page_costs_one_empty_page(http):
    token(http)
    users = serve(http, "users", Collection(rows("users", 400), total_header=False, link=None))
    result, sink = fetch(settings(page_size=100))
    assert result.ok and len(sink.ids("users")) == 400
    assert [int(q["offset"]) for q in users.requests] == [0, 100, 200, 300, 400]


@pytest.mark.parametrize("style", ["brackets", "bare"])
def test_link_headers_without_total_lead_to_every_page(http, style):
    token(http)
    users = serve(http, "users", Collection(rows("users", 420), total_header=False, link=style))
    result, sink = fetch(settings(page_size=100))
    assert result.ok and len(sink.ids("users")) == 420
    # rel="last" told where the end is: no request past it
    assert max(int(q["offset"]) for q in users.requests) == 400


def test_cursor_style_next_links_are_followed_one_by_one(http):
    token(http)
    data = rows("users", 25)

    def answer(request):
        cursor = int(request.params.get("cursor", 0))
        page = data[cursor:cursor + 10]
        headers = {"Link": f'<{BASE}/users?cursor={cursor + 10}>; rel="next"'} \
            if cursor + 10 < len(data) else {"Link": f'<{BASE}/users?cursor=0>; rel="first"'}
        return 200, headers, json.dumps({"users": page})

    respond(http, "users", answer)
    result, sink = fetch(settings(page_size=10))
    assert result.ok and len(sink.ids("users")) == 25
    assert result.results["users"].pages == 3


def test_rows_seen_twice_are_handed_over_once(http):
    token(http)
    data = rows("users", 300)

    def answer(request):
        offset = int(request.params["offset"])
        shifted = max(0, offset - 5)  # offsets shift while the data changes
        return 200, {"X-Total-Count": "300"}, json.dumps({"users": data[shifted:offset + 100]})

    respond(http, "users", answer)
    result, sink = fetch(settings(page_size=100))
    assert result.ok
    assert sink.ids("users") == sorted(r["sourcedId"] for r in data)
    # 5 rows again on each of the pages at 100 and 200, and on the page past the total that
    # the last full page makes SDM ask for (a total is no promise): 5 rows seen, nothing new.
    assert result.results["users"].duplicates == 15


def test_a_sourced_id_twice_on_one_page_is_kept_once(http):
    token(http)
    data = rows("users", 5)
    http.add(responses.GET, f"{BASE}/users", json={"users": [*data, data[2], data[4]]},
             headers={"X-Total-Count": "7"})
    result, sink = fetch(settings(page_size=100))
    assert result.ok and result.results["users"].duplicates == 2
    assert sink.ids("users") == sorted(r["sourcedId"] for r in data)


def test_a_server_that_ignores_offset_fails_the_collection_instead_of_looping(http):
    token(http)
    data = rows("users", 50)
    respond(http, "users", lambda request: (200, {}, json.dumps({"users": data})))
    result, sink = fetch(settings(page_size=50))
    users = result.results["users"]
    assert not users.ok and users.error.category == Category.INCOMPLETE
    assert users.error.message == (
        "The server ignores offset: asked for users past the first page, it sent the first "
        "page again, so SDM cannot read beyond the first 50 records")
    assert users.requests == 2


def test_a_server_that_ignores_offset_with_a_total_says_how_much_is_missing(http):
    token(http)
    data = rows("users", 50)
    respond(http, "users", lambda request: (
        200, {"X-Total-Count": "50"}, json.dumps({"users": data[:10]})))
    result, sink = fetch(settings(page_size=10, max_in_flight=2))
    users = result.results["users"]
    assert not users.ok and users.error.category == Category.INCOMPLETE
    assert users.error.message.endswith("beyond the first 10 records of the 50 it says it holds")
    assert users.requests <= 3  # the first page and the window, no more


def test_a_total_larger_than_the_data_is_a_hint_the_end_is_the_first_empty_page(http):
    token(http)
    data = rows("users", 50)

    def answer(request):
        offset = int(request.params["offset"])
        return 200, {"X-Total-Count": "5000000"}, json.dumps({"users": data[offset:offset + 1]})

    respond(http, "users", answer)
    progress = []
    result, sink = fetch(settings(page_size=1000, max_in_flight=4), progress=progress.append)
    users = result.results["users"]
    assert users.ok and len(sink.ids("users")) == 50
    assert 51 <= users.requests <= 50 + 4  # never more than the window past the end
    assert users.warnings == ("The server said 5,000,000, sent 50; SDM read on to the last "
                              "page the server serves",)
    assert progress[-1].state == "done"


@pytest.mark.parametrize(("count", "page_size", "total", "requests"), [
    (50, 10, 0, 6),  # five pages and the empty one that proves the end
    (200, 100, 100, 3),  # the total reached exactly by a full first page: 0, 100, 200 (empty)
])
def test_a_total_smaller_than_the_data_does_not_truncate(http, count, page_size, total,
                                                         requests):
    token(http)
    data = rows("users", count)

    def answer(request):
        offset, limit = int(request.params["offset"]), int(request.params["limit"])
        return 200, {"X-Total-Count": str(total)}, json.dumps(
            {"users": data[offset:offset + limit]})

    respond(http, "users", answer)
    result, sink = fetch(settings(page_size=page_size))
    users = result.results["users"]
    assert result.ok and sink.ids("users") == sorted(r["sourcedId"] for r in data)
    assert users.warnings == (f"The server said {total}, sent {count}; SDM read on to the "
                              "last page the server serves",)
    assert users.requests == requests


def test_a_cursor_that_leads_back_fails_the_collection(http):
    token(http)
    data = rows("users", 20)

    def answer(request):
        cursor = int(request.params.get("cursor", 0))
        return 200, {"Link": f'<{BASE}/users?cursor={(cursor + 10) % 20}>; rel="next"'}, \
            json.dumps({"users": data[cursor:cursor + 10]})

    respond(http, "users", answer)
    result, sink = fetch(settings(page_size=10))
    users = result.results["users"]
    assert not users.ok and users.error.category == Category.INCOMPLETE
    assert "led back to records already read" in users.error.message
    assert len(sink.ids("users")) == 20


def test_a_huge_total_plans_only_the_window_and_cancel_stops_it(http):
    token(http)
    served = []

    def answer(request):  # a row at every offset, slowly, and a total of five million
        offset = int(request.params["offset"])
        served.append(offset)
        time.sleep(0.002)
        return 200, {"X-Total-Count": "5000000"}, json.dumps({"users": rows("users", 1, offset)})

    respond(http, "users", answer)
    cancel = threading.Event()
    planned = []

    def watch(progress):
        planned.append(progress.pages)
        if progress.pages >= 40:
            cancel.set()

    started = time.monotonic()
    result, sink = fetch(settings(page_size=1000, max_in_flight=4), progress=watch,
                         cancel=cancel)
    assert time.monotonic() - started < 5
    users = result.results["users"]
    assert users.error.category == Category.CANCELLED
    # nothing planned past the pages a collection plans ahead of the requests in flight
    assert len(served) <= 40 + 4 * PLANNED_PER_SLOT + 1


def test_a_page_shorter_than_planned_is_completed(http):
    token(http)
    data = rows("users", 300)
    cut = threading.Event()

    def answer(request):
        offset, limit = int(request.params["offset"]), int(request.params["limit"])
        end = offset + limit
        if offset == 100 and not cut.is_set():
            cut.set()
            end = offset + 60  # this page came back short once
        return 200, {"X-Total-Count": "300"}, json.dumps({"users": data[offset:end]})

    respond(http, "users", answer)
    result, sink = fetch(settings(page_size=100))
    assert result.ok and len(sink.ids("users")) == 300


def test_delta_asks_for_changes_since_and_keeps_tobedeleted_rows(http):
    token(http)
    data = rows("users", 3)
    data[1]["status"] = "tobedeleted"
    users = serve(http, "users", data)
    result, sink = fetch(settings(), since="2026-01-01T00:00:00Z")
    assert users.requests[0]["filter"] == "dateLastModified>'2026-01-01T00:00:00Z'"
    assert "status" not in users.requests[0]["filter"]
    assert [r.status for r in sorted(sink.records["users"], key=lambda r: r.sourced_id)] == \
        ["active", "tobedeleted", "active"]
    assert result.ok


def test_a_server_refusing_sort_is_asked_again_without_it(http):
    token(http)
    data = rows("users", 5)

    def answer(request):
        if "sort" in request.params:
            return 400, {}, json.dumps({"imsx_codeMajor": "failure", "imsx_severity": "error",
                                        "imsx_description": "sort is not supported"})
        return 200, {"X-Total-Count": "5"}, json.dumps({"users": data})

    respond(http, "users", answer)
    result, sink = fetch(settings())
    assert result.ok and len(sink.ids("users")) == 5


def test_one_failing_collection_does_not_stop_the_others(http):
    token(http)
    for entity in ENTITIES:
        if entity != "users":
            serve(http, entity, rows(entity, 120))
    respond(http, "users", lambda request: (500, {}, json.dumps({
        "imsx_codeMajor": "failure", "imsx_severity": "error",
        "imsx_description": "database is down"})))
    result, sink = fetch(settings(), entities=ENTITIES)
    assert result.failed == ["users"]
    error = result.results["users"].error
    assert (error.category, error.entity, error.status) == (Category.SERVER_ERROR, "users", 500)
    assert error.server_message == "database is down"
    assert all(len(sink.ids(e)) == 120 for e in ENTITIES if e != "users")


def test_get_page_reports_what_the_server_said(http):
    token(http)
    serve(http, "users", Collection(rows("users", 30)))
    with OneRosterClient(settings()) as client:
        page = client.get_page("users", offset=10, limit=10, params={"fields": "sourcedId"})
    assert [r.sourced_id for r in page.records] == [f"use-{i:05d}" for i in range(10, 20)]
    assert (page.status, page.total, page.has_link) == (200, 30, True)
    assert page.next_url == f"{BASE}/users?limit=10&offset=20&fields=sourcedId"
    assert page.url == f"{BASE}/users?limit=10&offset=10&fields=sourcedId"
    assert page.elapsed_s >= 0


def test_cancel_stops_the_fetch_and_marks_collections_cancelled(http):
    token(http)
    cancel = threading.Event()
    users = serve(http, "users", Collection(rows("users", 2000), delay_s=0.05))
    sink = Collect()

    def stop_after_first(entity, records):
        sink(entity, records)
        cancel.set()

    with OneRosterClient(settings(max_in_flight=2)) as client:
        result = client.fetch(("users",), sink=stop_after_first, cancel=cancel)
    run = result.results["users"]
    assert not run.ok and run.error.category == Category.CANCELLED
    assert len(users.requests) < 20


def test_a_fetch_cancelled_before_it_starts_asks_for_no_page(http):
    token(http)
    users = serve(http, "users", rows("users", 10))
    cancel = threading.Event()
    cancel.set()
    with OneRosterClient(settings()) as client:
        result = client.fetch(("users", "orgs"), sink=Collect(), cancel=cancel)
    assert {r.error.category for r in result.results.values()} == {Category.CANCELLED}
    assert users.requests == []


def test_a_failing_sink_stops_the_fetch_and_is_raised(http):
    token(http)
    serve(http, "users", Collection(rows("users", 500)))

    def broken(entity, records):
        raise OSError("disk full")

    with OneRosterClient(settings()) as client, pytest.raises(OSError, match="disk full"):
        client.fetch(("users",), sink=broken)


def test_a_slow_sink_holds_the_fetchers_back_instead_of_piling_pages_up(http):
    token(http)
    users = serve(http, "users", Collection(rows("users", 5000)))
    seen = []

    def slow(entity, records):
        if not seen:
            time.sleep(0.3)  # meanwhile the fetchers may read ahead, but not without bound
            seen.append(len(users.requests))

    with OneRosterClient(settings(max_in_flight=4)) as client:
        result = client.fetch(("users",), sink=slow)
    assert result.ok and len(users.requests) == 50
    assert seen[0] <= 1 + 2 * 4  # the first page, then one answer per fetcher and queue place


def test_a_short_first_page_under_a_large_total_is_probed_alone(http):
    """A total far above the rows: one lone page past a short first page proves the end."""
    token(http)
    data = rows("users", 30)

    def answer(request):
        offset, limit = int(request.params["offset"]), int(request.params["limit"])
        return 200, {"X-Total-Count": "5000000"}, json.dumps(
            {"users": data[offset:offset + limit]})

    respond(http, "users", answer)
    result, sink = fetch(settings(page_size=100, max_in_flight=8))
    assert result.ok and len(sink.ids("users")) == 30
    assert result.results["users"].requests == 2  # not a window of 8 past the end
