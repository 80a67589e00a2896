"""source-test-data: a generated sample school, for learning SDM without any SIS."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from itertools import islice

from oneroster.model import (
    Category,
    EntityProgress,
    EntityResult,
    FetchResult,
    OneRosterError,
    ProgressCallback,
    Sink,
)
from sdm_plugins.source_test_data.school import SampleSchool
from webapp.plugin_api import (
    CheckResult,
    Field,
    PreflightResult,
    Sample,
    SchoolFilter,
    SourcePlugin,
)

BATCH = 500


class SampleSchoolSource(SourcePlugin):
    """Generate a sample school of a chosen size, the same every time."""

    id = "source-test-data"
    name = "Test data"
    description = ("Generates a sample school (a district, a school, courses, classes, "
                   "teachers and students) for learning SDM without any SIS.")
    fields = (
        Field("classes", "Number of classes", "int", default=10, min=1, max=2000,
              help="Each class has one teacher."),
        Field("users_per_class", "Users per class", "int", default=25, min=1, max=200,
              help="Students enrolled in each class; each student takes up to four classes."),
        Field("teachers", "Number of teachers", "int", default=5, min=1, max=500),
    )

    @property
    def school(self) -> SampleSchool:
        return SampleSchool(self.config["classes"], self.config["users_per_class"],
                            self.config["teachers"])

    def _filter(self) -> SchoolFilter | None:
        schools = self.config.get("schools") or []
        if not schools:
            return None
        orgs = list(self.school.records("orgs"))
        return SchoolFilter(schools, SchoolFilter.ancestors(orgs, schools))

    def check(self) -> CheckResult:
        return CheckResult(True, "Test data is generated locally; there is nothing to reach.")

    def preflight(self) -> PreflightResult:
        totals = self.school.totals()
        return PreflightResult(True, totals={e: totals[e] for e in self.selected})

    def sample(self, entities: Sequence[str], limit: int = 5) -> dict[str, Sample]:
        totals = self.school.totals()
        keep = self._filter()
        samples = {}
        for entity in entities:
            records = (r for r in self.school.records(entity) if keep is None or keep.keeps(r))
            rows = tuple(islice(records, limit))
            total = totals[entity] if keep is None else None
            samples[entity] = Sample(entity, rows, total=total,
                                     more=total is None and len(rows) == limit)
        return samples

    def read(self, entities: Sequence[str], *, sink: Sink,
             progress: ProgressCallback | None = None,
             cancel: threading.Event | None = None,
             since: str | None = None) -> FetchResult:
        keep = self._filter()
        results = {}
        for entity in entities:
            results[entity] = self._read_one(entity, sink, progress, cancel, since, keep)
        return FetchResult(results)

    def _read_one(self, entity: str, sink: Sink, progress: ProgressCallback | None,
                  cancel: threading.Event | None, since: str | None,
                  keep: SchoolFilter | None) -> EntityResult:
        started = time.monotonic()
        total = self.school.totals()[entity] if keep is None and since is None else None
        state = EntityProgress(entity, "running", total=total)
        _tell(progress, state)
        records = self.school.records(entity)
        while True:
            if cancel is not None and cancel.is_set():
                state.state = "cancelled"
                _tell(progress, state)
                error = OneRosterError(Category.CANCELLED, "The read was cancelled.",
                                       entity=entity)
                return EntityResult(entity, False, state.fetched, state.pages, 0,
                                    time.monotonic() - started, total, error)
            batch = list(islice(records, BATCH))
            if not batch:
                break
            batch = [r for r in batch if (keep is None or keep.keeps(r))
                     and (since is None or (r.date_last_modified or "") > since)]
            if batch:
                sink(entity, batch)
            state.fetched += len(batch)
            state.pages += 1
            _tell(progress, state)
        state.state = "done"
        _tell(progress, state)
        return EntityResult(entity, True, state.fetched, state.pages, 0,
                            time.monotonic() - started, total if total is not None
                            else state.fetched)


def _tell(progress: ProgressCallback | None, state: EntityProgress) -> None:
    if progress is not None:
        progress(state)
