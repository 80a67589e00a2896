"""Merging and checking a run's stored records, in SQL over the run_records table.

``resolve`` applies the merge precedence: of the records sharing an entity and sourcedId,
the one from the source first in the precedence wins (the latest stored, within one source)
and the others are marked superseded. ``report`` is the referential-integrity report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.models import RunRecord
from webapp.plugin_api import ENTITY_LABELS
from webapp.runs.references import CHECKS, missing
from webapp.runs.tally import Tally
from webapp.wording import counted, entity_label


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


NOUNS = {"academicSessions": "academic sessions"}  # how a count names a collection


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
                kept, missing(run_id, entity, kept, merged, references), strict=True):
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
