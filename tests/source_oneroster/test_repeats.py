"""Rows sent twice: dropped from a window of recent pages that does not grow with a collection."""

from __future__ import annotations

import json

from oneroster.client import OneRosterClient
from oneroster.parallel import RECENT_PAGES_CAP_PER_SLOT
from oneroster.repeats import RecentIds
from tests.source_oneroster.fake_sis import Collect, respond, rows, settings, token


def test_new_pages_are_taken_whole_and_repeats_are_pointed_out():
    recent = RecentIds(cap=4)
    assert recent.fresh(0, ["a", "b"]) is None
    assert recent.fresh(2, ["b", "c", "c", "d"]) == [1, 3]
    assert recent.fresh(4, ["a", "d"]) == []


def test_pages_far_from_every_page_to_come_are_forgotten():
    recent = RecentIds(cap=100)
    recent.fresh(0, ["first"])
    for page in range(1, 10):
        recent.fresh(page * 10, [f"id-{page}-{n}" for n in range(10)])
    recent.forget_far([20, 100], margin=10)  # a page waiting for a retry, and the next one
    assert len(recent) == 41  # pages 10, 20, 30 and 90, and the first page
    assert recent.fresh(100, ["first", "id-1-0", "id-5-0", "id-9-0"]) == [2]


def test_the_cap_forgets_the_pages_handled_first():
    recent = RecentIds(cap=3)
    for page in range(100):
        recent.fresh(10, [f"id-{page}-{n}" for n in range(10)])  # held by one slow page
        assert len(recent) <= 30
    assert recent.fresh(10, ["id-0-0"]) is None  # long gone: new again
    assert recent.fresh(10, ["id-99-9"]) == []


def test_pages_of_nothing_new_do_not_push_the_first_page_out():
    recent = RecentIds(cap=1)
    first = [f"u{n}" for n in range(5)]
    recent.fresh(0, first)
    for offset in range(5, 50, 5):
        recent.fresh(offset + 1000, [f"other-{offset}"])
        recent.forget_far([offset + 1000], margin=5)
        assert recent.fresh(offset, first) == []


def fetch_shifted(http, total: int, shift: int, page_size: int, in_flight: int):
    token(http)
    data = rows("users", total)

    def answer(request):
        offset = int(request.params["offset"])
        start = max(0, offset - shift)  # offsets shift while the data changes
        return 200, {"X-Total-Count": str(total)}, json.dumps(
            {"users": data[start:offset + page_size]})

    respond(http, "users", answer)
    sink = Collect()
    with OneRosterClient(settings(page_size=page_size, max_in_flight=in_flight)) as client:
        result = client.fetch(("users",), sink=sink)
    return data, result, sink


def test_a_long_fetch_of_shifting_pages_hands_every_row_over_once(http):
    data, result, sink = fetch_shifted(http, 3000, 3, 10, 4)
    assert result.ok and sink.ids("users") == sorted(r["sourcedId"] for r in data)
    # 3 rows again on every page but the first, the page past the total included (asked for
    # after a full last page: a total is no promise).
    assert result.results["users"].duplicates == 3 * 300
    assert RECENT_PAGES_CAP_PER_SLOT * 4 * 13 < 3000  # far more rows than it may remember
