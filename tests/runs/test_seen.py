"""What a run's writer has met before: a filter that never misses a repeat, and targets sent
once, in memory of a fixed size."""

from __future__ import annotations

import pytest

from oneroster.model import Record
from tests.runs.conftest import graph, source
from tests.runs.test_engine import ROSTER
from tests.runs.test_run_test_data import run_id_of
from tests.runs.test_store import emptied_writer, settled
from webapp.extensions import db
from webapp.runs import seen
from webapp.runs.seen import RecentTargets, SeenIds
from webapp.runs.store import RecordWriter


def test_every_sourced_id_seen_before_is_a_suspect_and_new_ones_mostly_are_not():
    ids = [f"user-{n}" for n in range(100_000)]
    filter_ = SeenIds()
    suspects = [found for start in range(0, len(ids), 1000)
                for found in filter_.add("users", ids[start:start + 1000])]
    assert len(suspects) < 10  # 100,000 sourcedIds in 2**26 bits: next to none by chance
    assert filter_.add("users", ids[5000:5010]) == ids[5000:5010]  # never missed
    assert filter_.add("enrollments", ids[:1000]).__len__() < 10  # another collection's


def test_a_small_filter_suspects_much_and_still_misses_no_repeat():
    filter_ = SeenIds(bits=1024)
    ids = [f"u-{n}" for n in range(2000)]
    assert len(filter_.add("users", ids)) > 500  # full: most look seen
    assert filter_.add("users", ids[:50]) == ids[:50]
    with pytest.raises(ValueError, match="power of two"):
        SeenIds(bits=1000)


def test_targets_are_sent_once_while_remembered_and_again_after_the_memory_fills():
    recent = RecentTargets(cap=4)
    school, klass = ("enrollments", "school", "s-1"), ("enrollments", "class", "c-1")
    assert recent.fresh([klass, school]) == [klass, school]
    assert recent.fresh([klass, school]) == []
    more = [("enrollments", "user", f"u-{n}") for n in range(3)]
    assert recent.fresh(more) == more  # past the cap: forgets, then remembers these
    assert recent.fresh([klass, *more]) == [klass]


def users(first: int, count: int = 5) -> list[Record]:
    return [Record("users", f"u-{n}", "active", None, {"sourcedId": f"u-{n}"}, {})
            for n in range(first, first + count)]


@pytest.mark.parametrize("again", [False, True])
def test_suspects_the_filter_could_not_tell_apart_are_settled_by_the_database(
        app, ada, flows, scripted, monkeypatch, again):
    monkeypatch.setattr(seen, "BITS", 64)  # every sourcedId soon looks seen before
    flow_id = flows.create(graph(source(plugin="source-scripted", records=ROSTER)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    with app.app_context():
        writer = emptied_writer(run.id)
        put = writer.sink(0)
        for first in (0, 40, 80):
            put("users", users(first, 40))
        put("users", users(3 if again else 120))
        writer.close()
        assert writer._suspects  # the filter could not tell: the database was asked
        assert writer.tally.repeated is again
        assert writer.stored == 125


def test_too_many_suspects_leave_the_run_to_find_repeats_in_its_records(
        app, ada, flows, scripted, monkeypatch):
    monkeypatch.setattr(seen, "BITS", 64)
    monkeypatch.setattr(seen, "SUSPECTS", 10)
    flow_id = flows.create(graph(source(plugin="source-scripted", records=ROSTER)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status == "completed" and run.integrity["warnings"] == []
    with app.app_context():
        writer = RecordWriter(db.engine, run.id).start()
        put = writer.sink(0)
        put("users", users(1000, 100))
        settled(writer, 100)
        writer.close()
        assert writer.tally.repeated and not writer._suspects  # no longer kept one by one
