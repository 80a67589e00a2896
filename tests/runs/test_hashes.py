"""The compact sets a run's tally keeps sourcedIds in."""

from __future__ import annotations

from webapp.runs.hashes import PARTS, HashSet


def test_repeats_and_coverage_are_seen_across_pages():
    ids = HashSet()
    ids.add([f"user-{n}" for n in range(5000)])
    ids.add([f"user-{n}" for n in range(5000, 9000)])
    assert len(ids) == 9000 and ids.distinct()
    pointed = HashSet()
    pointed.add({f"user-{n}" for n in range(0, 9000, 7)})
    assert ids.covers(pointed)
    pointed.add(["ghost"])
    assert not ids.covers(pointed)
    ids.add(["user-4242"])
    assert not ids.distinct()


def test_hashes_spread_over_every_part_and_cost_eight_bytes_each():
    ids = HashSet()
    ids.add(str(n) for n in range(100_000))
    assert all(ids.parts)
    assert sum(part.itemsize * len(part) for part in ids.parts) == 8 * 100_000
    assert len(ids.parts) == PARTS


def test_an_empty_set_covers_nothing_but_the_empty_set():
    assert HashSet().covers(HashSet()) and HashSet().distinct()
    one = HashSet()
    one.add(["x"])
    assert not HashSet().covers(one)
