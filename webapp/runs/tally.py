"""What a run learns about its records as it stores them, so the end of a run scans none.

Per source and collection, how many rows and how many tobedeleted: a few numbers, whatever
the district's size. Whether a sourcedId came twice, a filter of fixed size tells the
writer, and the database settles what it suspects (webapp/runs/seen.py). Per reference the
integrity report follows, the sourcedIds a page points to go to the database with the page
(the run_references table), once per collection, reference and target as far as the writer
remembers sending it; at the end one query finds those no stored record has. As long as no
sourcedId came twice, every stored record wins the merge, so the counts follow from these
figures, and so does a reference check that finds nothing missing (the usual case). When a
sourcedId does come twice, a reference is missing or is not a plain sourcedId, the integrity
report reads the records themselves.
"""

from __future__ import annotations

from operator import itemgetter

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


def targets(entity: str, references: dict[str, list[str | None]] | None
            ) -> list[tuple[str, str, str]]:
    """Return the distinct (collection, reference, sourcedId) a page points to, sorted."""
    if references is None:
        return []
    return sorted({(entity, field, target) for field, found in references.items()
                   for target in found if target is not None})


class Tally:
    """Counts of the records one writer stored, and what its references were like."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, str], list[int]] = {}  # (rank, entity): [rows, tobedeleted]
        self.absent: set[tuple[str, str]] = set()  # (entity, field): some record has none
        self.plain = True  # every reference was a sourcedId string, or absent
        self.repeated = False  # a sourcedId is stored twice: the database said so
        # (entity, field): how many targets no stored record has; set once the run is stored
        self.unresolved: dict[tuple[str, str], int] | None = None

    def add(self, rank: int, entity: str, rows: int, tobedeleted: int,
            references: dict[str, list[str | None]] | None) -> None:
        """Count one stored page of one source: its rows, how many are tobedeleted, and
        whether pointed() found every reference plain (and which column ones absent)."""
        numbers = self.rows.setdefault((rank, entity), [0, 0])
        numbers[0] += rows
        numbers[1] += tobedeleted
        if references is None:
            self.plain = False
            return
        for field in REFERENCES.get(entity, ()):  # the others may be left out
            if (entity, field) not in self.absent and None in references[field]:
                self.absent.add((entity, field))

    def counts(self, tobedeleted: bool = False) -> dict[str, int]:
        """Return rows (or tobedeleted rows) per collection, all sources together."""
        sums: dict[str, int] = {}
        for (_rank, entity), numbers in self.rows.items():
            sums[entity] = sums.get(entity, 0) + numbers[1 if tobedeleted else 0]
        return sums

    def missing(self, entity: str, field: str, target: str) -> int | None:
        """Return 0 when every record of a collection points to a stored `target` record.

        None when some do not, or when that is not known: how many, and which, is for the
        records to say.
        """
        if (entity, field) in self.absent or self.unresolved is None:
            return None
        return None if self.unresolved.get((entity, field)) else 0
