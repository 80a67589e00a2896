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

# The references stored in columns of run_records, per collection: (ref_a, ref_b). A record
# without one of these points to a missing record.
REFERENCES: dict[str, tuple[str, str]] = {
    "enrollments": ("user", "class"),
    "classes": ("course", "school"),
}
# The references followed only in the records' JSON, per collection: (field, how it is held):
# "one" a reference, "many" a list of references, "roles" the org of each of a user's roles.
# A record may go without these; a sourcedId given must name a record.
FOLLOWED: dict[str, tuple[tuple[str, str], ...]] = {
    "orgs": (("parent", "one"),),
    "academicSessions": (("parent", "one"),),
    "courses": (("schoolYear", "one"), ("org", "one")),
    "classes": (("terms", "many"),),
    "users": (("roles", "roles"), ("primaryOrg", "one"), ("agents", "many")),
    "enrollments": (("school", "one"),),
}

_SOURCED_ID = itemgetter("sourcedId")
_PLAIN = frozenset((str, type(None)))


def pointed(entity: str, datas: list[dict]) -> dict[str, list[str | None]] | None:
    """Return, per reference the report follows, the sourcedIds the records point to.

    For the column references, one per record (None: the record has none); for the others,
    every sourcedId named. None when some reference is not a plain sourcedId string: the
    database's text of it is what counts then.
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
    for field, held in FOLLOWED.get(entity, ()):
        try:
            targets = named(datas, field, held)
        except (KeyError, TypeError, AttributeError):  # not the shape of a reference
            return None
        if not _PLAIN.issuperset(map(type, targets)):
            return None
        found[field] = targets
    return found


def named(datas: list[dict], field: str, held: str) -> list[str | None]:
    """Return the sourcedIds a field of the records names (raise if one is not a reference)."""
    values = [data.get(field) for data in datas]
    if held == "one":
        return [None if value is None else value["sourcedId"] for value in values]
    if held == "many":
        return [ref["sourcedId"] for value in values if value for ref in value]
    return [role["org"]["sourcedId"] for value in values if value for role in value
            if role.get("org") is not None]


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
            columns = REFERENCES.get(entity, ())
            for field, targets in references.items():
                distinct = set(targets)  # a page's records often share their targets
                if None in distinct:
                    distinct.discard(None)
                    if field in columns:  # the others may be left out
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
