"""Merging and checking a run's stored records, in SQL over the run_records table.

``resolve`` applies the merge precedence: of the records sharing an entity and sourcedId,
the one from the source first in the precedence wins (the latest stored, within one source)
and the others are marked superseded. ``report`` is the referential-integrity report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.models import RunRecord
from webapp.plugin_api import ENTITY_LABELS
from webapp.runs.tally import Tally
from webapp.wording import counted, entity_label

EXAMPLES = 5


@dataclass(frozen=True)
class Finding:
    """One line of the report: what, how many, and a few sourcedIds to look at."""

    code: str
    entity: str
    count: int
    message: str
    examples: tuple[str, ...] = ()


@dataclass
class Report:
    warnings: list[Finding] = field(default_factory=list)
    info: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # the references followed, by name
    unchecked: bool = False  # some reference could not be followed (see the notes)

    @property
    def summary(self) -> str:
        """Say in one sentence what the report found, claiming only what was checked."""
        codes = {f.code for f in self.warnings}
        broken = any(code.startswith("missing_") for code in codes)
        if broken:
            references = "some references point to records the run does not hold"
        elif not self.checked:
            references = ("no reference was checked" if self.unchecked
                          else "no collection read refers to another")
        elif self.unchecked:
            references = ("every reference checked points to a stored record (some could not "
                          "be checked: see below)")
        else:
            references = "every reference points to a stored record"
        repeats = ("a source repeats sourcedIds" if "duplicate_sourced_id" in codes
                   else "no source repeats a sourcedId")
        lead = "Warnings below" if self.warnings else "No problems found"
        return f"{lead}: {references} and {repeats}."

    def to_dict(self) -> dict[str, Any]:
        return {"warnings": [asdict(f) for f in self.warnings],
                "info": [asdict(f) for f in self.info], "notes": list(self.notes),
                "checked": list(self.checked), "summary": self.summary}


def _mine(alias: Any, run_id: int, entity: str) -> list[ColumnElement]:
    return [alias.run_id == run_id, alias.entity == entity, alias.superseded.is_(False)]


def duplicates(run_id: int) -> tuple[dict[str, int], dict[str, int]]:
    """Count sourcedIds stored twice: by one source (a data problem), and across sources."""
    r = RunRecord
    within = (select(r.entity).where(r.run_id == run_id)
              .group_by(r.entity, r.sourced_id, r.source_rank)
              .having(func.count() > 1).subquery())
    across = (select(r.entity).where(r.run_id == run_id)
              .group_by(r.entity, r.sourced_id)
              .having(func.count(r.source_rank.distinct()) > 1).subquery())
    same = dict(db.session.execute(
        select(within.c.entity, func.count()).group_by(within.c.entity)).all())
    both = dict(db.session.execute(
        select(across.c.entity, func.count()).group_by(across.c.entity)).all())
    return same, both


def resolve(run_id: int, *, needed: bool, again: bool = False) -> None:
    """Mark every record that loses to another of the same entity and sourcedId superseded.

    Concurrent sources store in any order; precedence is settled here, once, in one
    statement. ``needed`` is False when there are no duplicates to settle; ``again`` (a
    retry) first clears what an earlier attempt settled.
    """
    if again:
        db.session.execute(
            update(RunRecord).where(RunRecord.run_id == run_id, RunRecord.superseded.is_(True))
            .values(superseded=False), execution_options={"synchronize_session": False})
    if needed:
        better = aliased(RunRecord)
        beaten = exists().where(
            better.run_id == RunRecord.run_id,
            better.entity == RunRecord.entity,
            better.sourced_id == RunRecord.sourced_id,
            or_(better.source_rank < RunRecord.source_rank,
                and_(better.source_rank == RunRecord.source_rank, better.id > RunRecord.id)),
        )
        db.session.execute(
            update(RunRecord).where(RunRecord.run_id == run_id, beaten).values(superseded=True),
            execution_options={"synchronize_session": False})
    db.session.commit()


def counts(run_id: int, *, merged: bool) -> dict[str, int]:
    """Return the number of winning records per collection.

    ``merged`` says whether any record was superseded; when none was, the count reads the
    index alone.
    """
    query = (select(RunRecord.entity, func.count()).where(RunRecord.run_id == run_id)
             .group_by(RunRecord.entity))
    if merged:
        query = query.where(RunRecord.superseded.is_(False))
    return dict(db.session.execute(query).all())


def total_findings(collections: Sequence[Any]) -> list[Finding]:
    """Return a finding per collection whose server's total disagreed with its records."""
    found = []
    for collection in collections:
        for text in collection.warnings or ():
            found.append(Finding("total_mismatch", collection.entity, collection.records,
                                 f"{ENTITY_LABELS.get(collection.entity, collection.entity)}: "
                                 f"{text[0].lower()}{text[1:]}"))
    return found


def withheld_findings(collections: Sequence[Any]) -> list[Finding]:
    """Return a finding per optional collection the source was not granted."""
    return [Finding("not_granted", c.entity, 0, c.error["message"])
            for c in collections if (c.error or {}).get("withheld")]


@dataclass(frozen=True)
class Check:
    """One reference the report follows: every reference the 1.2 CSV binding defines."""

    entity: str
    field: str  # of the record's JSON (tally.pointed() names them the same)
    target: str  # the collection it names records of
    code: str
    what: str  # "Class terms": the reference, as the notes name it
    message: str  # what a finding says after "N classes point"
    column: str | None = None  # the run_records column holding it, when it has one
    held: str = "one"  # one | many | roles: see tally.FOLLOWED


# In the order of the report; the first four also live in columns of run_records.
CHECKS: tuple[Check, ...] = (
    Check("orgs", "parent", "orgs", "missing_parent", "Organization parents",
          "to a missing parent organization"),
    Check("academicSessions", "parent", "academicSessions", "missing_session_parent",
          "Academic session parents", "to a missing parent academic session"),
    Check("courses", "schoolYear", "academicSessions", "missing_school_year",
          "Course school years", "to a missing school year"),
    Check("courses", "org", "orgs", "missing_course_org", "Course organizations",
          "to a missing organization"),
    Check("classes", "course", "courses", "missing_course", "Class courses",
          "to a missing course", column="ref_a"),
    Check("classes", "school", "orgs", "missing_school", "Class schools",
          "to a missing school", column="ref_b"),
    Check("classes", "terms", "academicSessions", "missing_term", "Class terms",
          "to a missing term", held="many"),
    Check("users", "roles", "orgs", "missing_role_org", "User organizations (roles)",
          "to a missing organization in their roles", held="roles"),
    Check("users", "primaryOrg", "orgs", "missing_primary_org", "User primary organizations",
          "to a missing primary organization"),
    Check("users", "agents", "users", "missing_agent", "User agents",
          "to a missing agent", held="many"),
    Check("enrollments", "user", "users", "missing_user", "Enrollment users",
          "to a missing user", column="ref_a"),
    Check("enrollments", "class", "classes", "missing_class", "Enrollment classes",
          "to a missing class", column="ref_b"),
    Check("enrollments", "school", "orgs", "missing_enrollment_school", "Enrollment schools",
          "to a missing school"),
)
NOUNS = {"academicSessions": "academic sessions"}  # how a count names a collection
SCAN_BATCH = 5000


def _missing(run_id: int, entity: str, checks: Sequence[Check], merged: bool,
             references: Tally | None = None) -> list[tuple[int, tuple[str, ...]]]:
    """Count the records of a collection whose references point nowhere.

    With the writer's tally of `references` (no record superseded) showing nothing missing,
    the database is not asked at all. References held in columns are counted in one SQL scan;
    the others by reading the collection's records once.
    """
    if references is not None and not merged and all(
            references.missing(entity, check.field, check.target) == 0 for check in checks):
        return [(0, ()) for _ in checks]
    found = dict(zip([c for c in checks if c.column],
                     _missing_in_columns(run_id, entity, [c for c in checks if c.column],
                                         merged), strict=True))
    found.update(zip([c for c in checks if not c.column],
                     _missing_in_records(run_id, entity, [c for c in checks if not c.column],
                                         merged), strict=True))
    return [found[check] for check in checks]


def _missing_in_columns(run_id: int, entity: str, checks: Sequence[Check],
                        merged: bool) -> list[tuple[int, tuple[str, ...]]]:
    if not checks:
        return []
    src = aliased(RunRecord)
    orphans = []
    for check in checks:
        dst = aliased(RunRecord)
        found = [dst.run_id == run_id, dst.entity == check.target,
                 dst.sourced_id == getattr(src, check.column)]
        if merged:  # otherwise every record wins, and the probe reads the index alone
            found.append(dst.superseded.is_(False))
        orphans.append(~exists().where(*found))
    mine = _mine(src, run_id, entity) if merged else [src.run_id == run_id, src.entity == entity]
    totals = db.session.execute(select(*(
        func.coalesce(func.sum(case((orphan, 1), else_=0)), 0) for orphan in orphans))
        .select_from(src).where(*mine)).one()
    result = []
    for orphan, count in zip(orphans, totals, strict=True):
        examples: tuple[str, ...] = ()
        if count:
            examples = tuple(db.session.scalars(
                select(src.sourced_id).where(*mine, orphan).order_by(src.sourced_id)
                .limit(EXAMPLES)))
        result.append((int(count), examples))
    return result


def _missing_in_records(run_id: int, entity: str, checks: Sequence[Check],
                        merged: bool) -> list[tuple[int, tuple[str, ...]]]:
    """Read a collection's winning records in sourcedId order and resolve their references.

    The sourcedIds of each collection pointed to are held as their hashes (see hashes.py).
    """
    if not checks:
        return []
    stored = {target: _hashes(run_id, target, merged) for target in {c.target for c in checks}}
    counts = [0] * len(checks)
    examples: list[list[str]] = [[] for _ in checks]
    mine = _mine(RunRecord, run_id, entity) if merged else [RunRecord.run_id == run_id,
                                                            RunRecord.entity == entity]
    after = None
    while True:
        query = select(RunRecord.sourced_id, RunRecord.data).where(*mine)
        if after is not None:
            query = query.where(RunRecord.sourced_id > after)
        batch = db.session.execute(query.order_by(RunRecord.sourced_id).limit(SCAN_BATCH)).all()
        if not batch:
            break
        after = batch[-1][0]
        for sourced_id, raw in batch:
            data = orjson.loads(raw)
            for n, check in enumerate(checks):
                if any(hash(str(target)) not in stored[check.target]
                       for target in _named(data, check)):
                    counts[n] += 1
                    if len(examples[n]) < EXAMPLES:
                        examples[n].append(sourced_id)
    return [(count, tuple(found)) for count, found in zip(counts, examples, strict=True)]


def _named(data: Any, check: Check) -> list[Any]:
    """Return the sourcedIds one record's reference names (what cannot be one, as it is)."""
    value = data.get(check.field) if isinstance(data, dict) else None
    if check.held == "roles":
        value = [role.get("org") for role in value or () if isinstance(role, dict)]
    elif check.held == "one":
        value = [value]
    elif not isinstance(value, list):
        value = [value]
    return [ref.get("sourcedId") if isinstance(ref, dict) else ref
            for ref in value if ref not in (None, "")]


def _hashes(run_id: int, entity: str, merged: bool) -> set[int]:
    query = select(RunRecord.sourced_id).where(*(_mine(RunRecord, run_id, entity) if merged
                                                  else [RunRecord.run_id == run_id,
                                                        RunRecord.entity == entity]))
    return set(map(hash, db.session.scalars(query.execution_options(yield_per=SCAN_BATCH))))


def _check_references(result: Report, run_id: int, read: set[str], merged: bool,
                      references: Tally | None) -> None:
    """Follow every reference of the collections read; note those that cannot be followed."""
    for entity in dict.fromkeys(c.entity for c in CHECKS):
        if entity not in read:
            continue
        kept = []
        for check in (c for c in CHECKS if c.entity == entity):
            if check.target in read:
                kept.append(check)
            else:
                result.unchecked = True
                result.notes.append(f"{check.what} not checked: "
                                    f"{ENTITY_LABELS[check.target].lower()} were not read.")
        if not kept:
            continue
        result.checked += [check.what for check in kept]
        for check, (count, examples) in zip(
                kept, _missing(run_id, entity, kept, merged, references), strict=True):
            if count:
                verb = "points" if count == 1 else "point"
                result.warnings.append(Finding(
                    check.code, entity, count,
                    f"{counted(count, NOUNS.get(entity, entity))} {verb} {check.message}",
                    examples))
    if result.checked:
        result.notes.insert(0, "References checked: " + ", ".join(
            what[0].lower() + what[1:] for what in result.checked) + ".")


def report(run_id: int, entities: Sequence[str], *, delta: bool, overlaps: dict[str, int],
           same_source: dict[str, int], merged: bool = True,
           deleted: dict[str, int] | None = None, references: Tally | None = None) -> Report:
    """Check references, duplicates and tobedeleted records of a run's winning records.

    ``deleted`` (tobedeleted records per collection) is counted here unless already known;
    so are missing references, unless the writer's tally of ``references`` is given.
    """
    result = Report()
    read = set(entities)
    if delta:
        result.unchecked = True
        result.notes.append("References are not checked in a delta run: it holds only the "
                            "records that changed.")
    else:
        _check_references(result, run_id, read, merged, references)
    for entity, count in sorted(same_source.items()):
        result.warnings.append(Finding(
            "duplicate_sourced_id", entity, count,
            f"{counted(count, 'sourcedId')} of {entity_label(entity).lower()} came more than "
            f"once from the same source; the last one received was kept"))
    for entity, count in sorted(overlaps.items()):
        result.info.append(Finding(
            "merged", entity, count,
            f"{counted(count, entity)} came from more than one source; the merge precedence "
            f"chose which one to keep"))
    if deleted is None:
        deleted = dict(db.session.execute(
            select(RunRecord.entity, func.count())
            .where(RunRecord.run_id == run_id, RunRecord.superseded.is_(False),
                   RunRecord.status == "tobedeleted")
            .group_by(RunRecord.entity)).all())
    # A SIS marks records tobedeleted in the normal course of a school year: a fact to know,
    # not something a person must look at.
    for entity, count in sorted((e, n) for e, n in deleted.items() if n):
        result.info.append(Finding(
            "tobedeleted", entity, count,
            f"{counted(count, entity)} marked tobedeleted by the SIS"))
    return result
