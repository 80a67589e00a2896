"""Sets of strings kept as 64-bit hashes in compact arrays: 8 bytes a string, not an object.

A run's tally must know, at the end, whether any sourcedId came twice and whether every
reference points to a stored record, for a district of any size. Python sets of the strings
cost some 120 bytes a string; here each string is the 64-bit hash Python already computes
(and caches on the string), kept in one of PARTS arrays by the range its hash falls in. The
questions are answered part by part, a set of one part at a time, all in C.

Two different strings share a hash with a chance of one in 2**64 per pair: for the ten
million records of the largest districts, about one run in ten million would see a false
"a sourcedId came twice", which only makes the database settle the run (the exact path),
and a missing reference would go unreported with a chance far smaller still.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable

PARTS = 32
_SPAN = (1 << 64) // PARTS
# The first hash of each part but the first: parts split the signed 64-bit range evenly.
_BOUNDS = [-(1 << 63) + n * _SPAN for n in range(1, PARTS)]


class HashSet:
    """The 64-bit hashes of strings added, repeats included, in PARTS compact arrays."""

    def __init__(self) -> None:
        self.parts = [array("q") for _ in range(PARTS)]

    def __len__(self) -> int:
        return sum(map(len, self.parts))

    def add(self, values: Iterable[str]) -> None:
        """Add the hashes of some strings (a page of them: sorted once, split in C)."""
        hashes = sorted(map(hash, values))
        start = 0
        for part, bound in zip(self.parts, _BOUNDS, strict=False):
            end = bisect_left(hashes, bound, start)
            if end > start:
                part.extend(hashes[start:end])
            start = end
        if start < len(hashes):
            self.parts[-1].extend(hashes[start:])

    def distinct(self) -> bool:
        """Whether no string was added twice."""
        return all(len(set(part)) == len(part) for part in self.parts)

    def covers(self, other: HashSet) -> bool:
        """Whether every string added to `other` was added here too."""
        return all(set(mine).issuperset(theirs)
                   for mine, theirs in zip(self.parts, other.parts, strict=True) if theirs)
