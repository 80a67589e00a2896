"""What the writer learns about a run's records as it stores them, so the end of a run scans none.

Per source and collection, how many rows and how many tobedeleted; per collection, every
sourcedId stored; per reference the integrity report follows, every sourcedId it points to.
SourcedIds are kept as 64-bit hashes in compact arrays (webapp/runs/hashes.py), 8 bytes each,
so a district of ten million records costs tens of megabytes, not gigabytes.
As long as no sourcedId comes twice, every stored record wins the merge, so the counts and
the duplicate findings follow from these figures, and so does a reference check that finds
nothing missing (the usual case). When a sourcedId does come twice, a reference is missing
or is not a plain sourcedId, the engine asks the database.
"""

from __future__ import annotations

from operator import itemgetter

from webapp.runs.hashes import HashSet

# The references the integrity report follows, per collection: (ref_a, ref_b) of run_records.
REFERENCES: dict[str, tuple[str, str]] = {
    "enrollments": ("user", "class"),
    "classes": ("course", "school"),
}

_SOURCED_ID = itemgetter("sourcedId")
_PLAIN = frozenset((str, type(None)))


def pointed(entity: str, datas: list[dict]) -> dict[str, list[str | None]] | None:
    """Return, per reference the report follows, the sourcedId each record points to.

    None when some reference is not a plain sourcedId string: the database's text of it is
    what counts then.
    """
    found = {}
    for field in REFERENCES.get(entity, ()):
        try:
            targets = list(map(_SOURCED_ID, map(itemgetter(field), datas)))
        except (KeyError, TypeError):  # a record without the reference, or not an object
            targets = [ref.get("sourcedId") if isinstance(ref, dict) else None
                       for ref in (data.get(field) for data in datas)]
        if not _PLAIN.issuperset(map(type, targets)):
            return None
        found[field] = targets
    return found


class Tally:
    """Counts, sourcedIds and references of the records one writer stored."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, str], list[int]] = {}  # (rank, entity): [rows, tobedeleted]
        self.ids: dict[str, HashSet] = {}
        self.pointed: dict[tuple[str, str], HashSet] = {}  # (entity, field)
        self.absent: set[tuple[str, str]] = set()  # (entity, field): some record has none
        self.plain = True  # every reference was a sourcedId string, or absent

    def add(self, rank: int, entity: str, ids: list[str], tobedeleted: int,
            references: dict[str, list[str | None]] | None) -> None:
        """Count one stored page of one source: its sourcedIds, how many are tobedeleted, and
        what pointed() found in it."""
        numbers = self.rows.setdefault((rank, entity), [0, 0])
        numbers[0] += len(ids)
        numbers[1] += tobedeleted
        self.ids.setdefault(entity, HashSet()).add(ids)
        if references is None:
            self.plain = False
        elif self.plain:
            for field, targets in references.items():
                distinct = set(targets)  # a page's records often share their targets
                if None in distinct:
                    distinct.discard(None)
                    self.absent.add((entity, field))
                self.pointed.setdefault((entity, field), HashSet()).add(distinct)

    @property
    def repeated(self) -> bool:
        """Whether a sourcedId came twice: the stored rows need a merge."""
        return not all(ids.distinct() for ids in self.ids.values())

    def counts(self, tobedeleted: bool = False) -> dict[str, int]:
        """Return rows (or tobedeleted rows) per collection, all sources together."""
        sums: dict[str, int] = {}
        for (_rank, entity), numbers in self.rows.items():
            sums[entity] = sums.get(entity, 0) + numbers[1 if tobedeleted else 0]
        return sums

    def missing(self, entity: str, field: str, target: str) -> int | None:
        """Return 0 when every record of a collection points to a stored `target` record.

        None when some do not: how many, and which, is for the database to say.
        """
        if (entity, field) in self.absent:
            return None
        pointed = self.pointed.get((entity, field))
        return 0 if pointed is None or self.ids.get(target, HashSet()).covers(pointed) \
            else None
