"""Following a run's references: every reference of the OneRoster 1.2 CSV binding, checked
against the records the run holds.

Three ways, cheapest first: the targets the writer stored in run_references with each page
(one query for the whole run, when no record was superseded and every reference was a plain
sourcedId); the references held in columns of run_records (one SQL scan a collection); the
others by reading a collection's records, a batch at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, case, exists, func, literal, select
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.models import RunRecord, RunReference
from webapp.runs.tally import Tally

EXAMPLES = 5  # sourcedIds a finding names


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
SCAN_BATCH = 5000
LOOKUP_BATCH = 500  # sourcedIds a query looks up at once: within every database's limits


def missing(run_id: int, entity: str, checks: Sequence[Check], merged: bool,
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

    A batch at a time: the sourcedIds a batch names are looked up in the database, so no
    more than a batch's are held, whatever the district's size.
    """
    if not checks:
        return []
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
        named = [(sourced_id, [[str(target) for target in _named(data, check)]
                               for check in checks])
                 for sourced_id, data in ((i, orjson.loads(raw)) for i, raw in batch)]
        held = [_held(run_id, check.target, {t for _i, refs in named for t in refs[n]}, merged)
                for n, check in enumerate(checks)]
        for sourced_id, refs in named:
            for n, targets in enumerate(refs):
                if not held[n].issuperset(targets):
                    counts[n] += 1
                    if len(examples[n]) < EXAMPLES:
                        examples[n].append(sourced_id)
    return [(count, tuple(found)) for count, found in zip(counts, examples, strict=True)]


def _held(run_id: int, entity: str, wanted: set[str], merged: bool) -> set[str]:
    """Return which of some sourcedIds a run holds records of in a collection."""
    where = _mine(RunRecord, run_id, entity) if merged else [RunRecord.run_id == run_id,
                                                             RunRecord.entity == entity]
    found: set[str] = set()
    chunk = sorted(wanted)
    for start in range(0, len(chunk), LOOKUP_BATCH):
        found.update(db.session.scalars(select(RunRecord.sourced_id).where(
            *where, RunRecord.sourced_id.in_(chunk[start:start + LOOKUP_BATCH]))))
    return found


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


def unresolved(run_id: int) -> dict[tuple[str, str], int]:
    """Count, per collection and reference, the targets stored with the pages that no stored
    record of the run has (run_references: see webapp/runs/tally.py).

    Each target is one lookup on the records' index, asked as a subquery that stays one:
    written as NOT EXISTS, the planner may make it a join that reads the records of every
    run kept, or the whole run's records once per target, when its statistics predate the run.
    """
    ref, record = RunReference, aliased(RunRecord)
    target = case(*((and_(ref.entity == check.entity, ref.field == check.field), check.target)
                    for check in CHECKS))
    held = (select(literal(1)).where(record.run_id == run_id, record.entity == target,
                                     record.sourced_id == ref.target)
            .limit(1).scalar_subquery())
    rows = db.session.execute(
        select(ref.entity, ref.field, func.count())
        .where(ref.run_id == run_id, held.is_(None))
        .group_by(ref.entity, ref.field)).all()
    return {(entity, field): count for entity, field, count in rows}


def _mine(alias: Any, run_id: int, entity: str) -> list[ColumnElement]:
    return [alias.run_id == run_id, alias.entity == entity, alias.superseded.is_(False)]
