"""source-test-data: a generated sample school, for learning SDM without any SIS."""

from __future__ import annotations

import time
from collections.abc import Sequence
from itertools import islice

from oneroster.required_fields import sample_gaps
from sdm_plugins.source_test_data.school import SampleSchool
from webapp.plugin_api import (
    OK,
    SUCCESS,
    CancelToken,
    Checklist,
    CheckStep,
    EntityResult,
    ErrorCategory,
    FetchResult,
    Field,
    PreflightReport,
    Progress,
    ProgressCallback,
    Report,
    Sample,
    SchoolFilter,
    Sink,
    SourceConfig,
    SourceError,
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
        return self.school_of(self.config)

    @staticmethod
    def school_of(config: dict) -> SampleSchool:
        """Return the sample school a configuration generates."""
        return SampleSchool(config["classes"], config["users_per_class"], config["teachers"])

    def _filter(self) -> SchoolFilter | None:
        schools = self.config.get("schools") or []
        if not schools:
            return None
        orgs = list(self.school.records("orgs"))
        return SchoolFilter(schools, SchoolFilter.ancestors(orgs, schools))

    @classmethod
    def check(cls, config: SourceConfig, report: Report, cancel: CancelToken) -> Checklist:
        step = CheckStep("generate", "Test data", OK,
                         "Generated locally: there is nothing to reach.", elapsed_ms=0)
        checklist = Checklist(SUCCESS, (step,))
        report(checklist)
        return checklist

    @classmethod
    def preflight(cls, config: SourceConfig, report: Report,
                  cancel: CancelToken) -> PreflightReport:
        totals = cls.school_of(cls.clean(config.options)).totals()
        chosen = cls.chosen(config.options)
        return PreflightReport(Checklist(SUCCESS), totals={e: totals[e] for e in chosen})

    def sample(self, entities: Sequence[str], limit: int = 5) -> dict[str, Sample]:
        totals = self.school.totals()
        keep = self._filter()
        samples = {}
        for entity in entities:
            records = (r for r in self.school.records(entity) if keep is None or keep.keeps(r))
            rows = tuple(islice(records, limit))
            total = totals[entity] if keep is None else None
            samples[entity] = Sample(entity, rows, total=total,
                                     more=total is None and len(rows) == limit,
                                     warnings=tuple(sample_gaps(entity, [r.data for r in rows])))
        return samples

    def read(self, entities: Sequence[str], *, sink: Sink,
             progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None,
             since: str | None = None) -> FetchResult:
        keep = self._filter()
        results = {}
        for entity in entities:
            results[entity] = self._read_one(entity, sink, progress, cancel, since, keep)
        return FetchResult(results)

    def _read_one(self, entity: str, sink: Sink, progress: ProgressCallback | None,
                  cancel: CancelToken | None, since: str | None,
                  keep: SchoolFilter | None) -> EntityResult:
        started = time.monotonic()
        total = self.school.totals()[entity] if keep is None and since is None else None
        tell = progress or (lambda _state: None)
        tell(Progress(entity, "running", total=total))
        records = self.school.records(entity)
        fetched = pages = 0
        while True:
            if cancel is not None and cancel.is_set():
                tell(Progress(entity, "cancelled", fetched, total, pages))
                error = SourceError(ErrorCategory.CANCELLED, "The read was cancelled.",
                                    entity=entity)
                return EntityResult(entity, False, fetched, pages, 0,
                                    time.monotonic() - started, total, error)
            batch = list(islice(records, BATCH))
            if not batch:
                break
            batch = [r for r in batch if (keep is None or keep.keeps(r))
                     and (since is None or (r.date_last_modified or "") > since)]
            if batch:
                sink(entity, batch)
            fetched += len(batch)
            pages += 1
            tell(Progress(entity, "running", fetched, total, pages))
        tell(Progress(entity, "done", fetched, total, pages))
        return EntityResult(entity, True, fetched, pages, 0, time.monotonic() - started,
                            total if total is not None else fetched)
