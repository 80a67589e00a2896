"""The contracts of source and output plugins: what the host asks of them and what they answer.

A source plugin is a class with an ``id``, a ``name``, a ``description``, its configuration
fields (rendered by ``form_template``), and four verbs after Airbyte and Singer: ``check``
(can it connect), ``preflight`` (what would a read fetch, and what would stop it), ``sample``
(a few rows per collection for a preview) and ``read`` (every record, batch by batch).

The host hands a source everything it needs: the node's configuration, a saved connection's
details with the secret decrypted, a cancel token and a report to write its checklist to. A
plugin never imports the host's models, services or database; the host never imports a
particular plugin. Every type both sides share is importable from this module.

An output plugin turns a run's stored records into one artifact, such as a zip file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from webapp.plugin_fields import FORM_TEMPLATE, ConfigInvalid, Configurable, Field
from webapp.plugin_reports import (
    ERROR,
    FAILED,
    OK,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCESS,
    TESTING,
    WARNING,
    Checklist,
    CheckStep,
    ErrorInfo,
    PreflightReport,
    Report,
)
from webapp.plugin_types import (
    ENTITIES,
    ENTITY_LABELS,
    AuthMethod,
    CancelToken,
    ConnectionDetails,
    EgressRules,
    EntityResult,
    ErrorCategory,
    FetchResult,
    Progress,
    ProgressCallback,
    ProviderTemplate,
    Record,
    Sink,
    SourceError,
)

__all__ = [
    "ERROR",
    "FAILED",
    "OK",
    "PENDING",
    "RUNNING",
    "SKIPPED",
    "SUCCESS",
    "TESTING",
    "WARNING",
    "ENTITIES",
    "ENTITY_LABELS",
    "FORM_TEMPLATE",
    "AuthMethod",
    "CancelToken",
    "CheckStep",
    "Checklist",
    "ConfigInvalid",
    "Configurable",
    "ConnectionDetails",
    "EgressRules",
    "EntityResult",
    "ErrorCategory",
    "ErrorInfo",
    "FetchResult",
    "Field",
    "OutputPlugin",
    "OutputResult",
    "PreflightReport",
    "Progress",
    "ProgressCallback",
    "ProviderTemplate",
    "Record",
    "Report",
    "RunData",
    "Sample",
    "SchoolFilter",
    "SourceConfig",
    "SourceError",
    "SourcePlugin",
    "SourceUnavailable",
    "StoredRecord",
]


class SourceUnavailable(Exception):
    """A source cannot start: what its configuration points at is gone or unusable."""

    def __init__(self, title: str, message: str, advice: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.advice = tuple(advice)

    @property
    def public_message(self) -> str:
        return f"{self.title}: {self.message}"


@dataclass(frozen=True)
class SourceConfig:
    """What a check or a pre-flight is about: a node's settings and the connection they name."""

    options: Mapping[str, Any] = field(default_factory=dict)  # the node's configuration
    connection: ConnectionDetails | None = None  # for sources that use a saved connection
    organization_id: int | None = None
    budget_s: float = 30.0  # the check ends within this many seconds


@dataclass(frozen=True)
class Sample:
    """The first records of one collection, with its size when the source knows it."""

    entity: str
    records: tuple[Record, ...] = ()
    total: int | None = None
    more: bool = False  # True when there are more records than shown but no total
    error: SourceError | None = None
    warnings: tuple[str, ...] = ()  # what looks wrong in these records


ENTITY_CHOICES = tuple((e, ENTITY_LABELS[e]) for e in ENTITIES)

# The options of every source: which collections, full or delta, which schools.
SOURCE_OPTIONS: tuple[Field, ...] = (
    Field("entities", "Collections", "multichoice", default=list(ENTITIES), required=True,
          choices=ENTITY_CHOICES),
    Field("sync", "Sync", "choice", default="full",
          choices=(("full", "Full: every record"),
                   ("delta", "Delta: changes since the last successful run"))),
    Field("schools", "Schools", "list", default=[],
          help="sourcedIds of the schools to keep; empty keeps every school."),
)


class SourcePlugin(Configurable, ABC):
    """A place records come from. Instances are cheap; create one per use."""

    options: ClassVar[tuple[Field, ...]] = SOURCE_OPTIONS

    # Whether the configuration names a saved connection (field "connection_id"); the host
    # then hands the connection's details to the plugin, and tests saved connections with it.
    uses_connection: ClassVar[bool] = False
    # The collections this source can read.
    entities: ClassVar[tuple[str, ...]] = ENTITIES
    # The steps of check() as (id, label), shown pending while a check waits to start.
    check_steps: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, config: Mapping[str, Any] | None = None, *,
                 organization_id: int | None = None,
                 connection: ConnectionDetails | None = None) -> None:
        self.config = self.clean(config)
        self.organization_id = organization_id
        self.connection = connection

    @property
    def selected(self) -> tuple[str, ...]:
        """Return the collections this configuration reads, in the plugin's order."""
        return self.chosen(self.config)

    @classmethod
    def chosen(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """Return the collections a configuration reads, in the plugin's order."""
        wanted = options.get("entities") or cls.entities
        return tuple(e for e in cls.entities if e in wanted)

    @classmethod
    def address_problem(cls, url: str, egress: EgressRules) -> str | None:
        """Say why the source would refuse to connect to a URL's host, or None."""
        return None

    @classmethod
    @abstractmethod
    def check(cls, config: SourceConfig, report: Report, cancel: CancelToken) -> Checklist:
        """Tell whether the source can be reached, step by step; hand each snapshot to report.

        The connection test of a saved connection calls this on the source that uses it.
        """

    @classmethod
    @abstractmethod
    def preflight(cls, config: SourceConfig, report: Report,
                  cancel: CancelToken) -> PreflightReport:
        """Check everything a read needs and report what it would fetch, step by step."""

    @abstractmethod
    def sample(self, entities: Sequence[str], limit: int = 5) -> dict[str, Sample]:
        """Return the first records of each collection, without reading everything."""

    @abstractmethod
    def read(self, entities: Sequence[str], *, sink: Sink,
             progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None,
             since: str | None = None) -> FetchResult:
        """Hand every record of each collection to the sink, batch by batch, and say how it went.

        The sink may be called from several threads. One failing collection does not stop the
        others; its failure is reported in the result. ``since`` asks for the changes after an
        ISO 8601 timestamp only (delta), ``tobedeleted`` records included.
        """


class StoredRecord(NamedTuple):
    """A record as a run stored it (a named tuple: made once per record a bundle writes)."""

    sourced_id: str
    status: str
    date_last_modified: str | None
    data: dict[str, Any]


class RunData(ABC):
    """The records of one run, read in bounded memory, for an output plugin."""

    run_id: int
    label: str  # what produced the data, e.g. the flow's name

    @abstractmethod
    def entities(self) -> list[str]:
        """Return the collections the run holds records for."""

    @abstractmethod
    def mode(self, entity: str) -> str:
        """Return "bulk" for a full read of the collection, "delta" for changes only."""

    @abstractmethod
    def count(self, entity: str) -> int:
        """Return the number of records of a collection."""

    @abstractmethod
    def records(self, entity: str) -> Iterator[StoredRecord]:
        """Yield the records of a collection in sourcedId order."""

    def absent(self) -> Mapping[str, str]:
        """Return why collections the run asked for hold nothing, by collection (a sentence)."""
        return {}


@dataclass(frozen=True)
class OutputResult:
    """What an output plugin wrote: rows per file and notes for the run page."""

    files: Mapping[str, int]
    notes: tuple[str, ...] = ()


class OutputPlugin(Configurable, ABC):
    """A place a run's records go: one artifact per run."""

    extension: ClassVar[str] = "zip"
    media_type: ClassVar[str] = "application/zip"

    def __init__(self, config: Mapping[str, Any] | None = None, *,
                 organization_id: int | None = None) -> None:
        self.config = self.clean(config)
        self.organization_id = organization_id

    def filename(self, data: RunData) -> str:
        """Return the artifact's download name."""
        return f"run-{data.run_id}.{self.extension}"

    @abstractmethod
    def write(self, data: RunData, path: Path) -> OutputResult:
        """Write the artifact for a run's records to a file."""


def ref_id(value: Any) -> str | None:
    """Return the sourcedId of a OneRoster reference ({href, sourcedId, type}), or None."""
    if isinstance(value, Mapping):
        sourced_id = value.get("sourcedId")
        return str(sourced_id) if sourced_id not in (None, "") else None
    return None


class SchoolFilter:
    """Keep the records that belong to chosen schools.

    Orgs: the schools and the orgs given as ``parents`` (their district). Courses: those of
    a kept org. Classes and enrollments: those of a chosen school. Users: those with a role
    (or primary org) in a chosen school. Other collections pass.
    """

    def __init__(self, schools: Sequence[str], parents: Sequence[str] = ()) -> None:
        self.schools = frozenset(schools)
        self.orgs = self.schools | frozenset(parents)

    def keeps(self, record: Record) -> bool:
        data = record.data
        if record.entity == "orgs":
            return record.sourced_id in self.orgs
        if record.entity == "courses":
            return ref_id(data.get("org")) in self.orgs
        if record.entity in ("classes", "enrollments"):
            return ref_id(data.get("school")) in self.schools
        if record.entity == "users":
            orgs = [ref_id(role.get("org")) for role in data.get("roles") or []
                    if isinstance(role, Mapping)]
            orgs.append(ref_id(data.get("primaryOrg")))
            return any(org in self.schools for org in orgs)
        return True

    @staticmethod
    def ancestors(orgs: Sequence[Record], schools: Sequence[str]) -> set[str]:
        """Return the sourcedIds of the parents, grandparents... of the schools among orgs."""
        parent = {o.sourced_id: ref_id(o.data.get("parent")) for o in orgs}
        found: set[str] = set()
        for school in schools:
            current = parent.get(school)
            while current and current not in found and current not in schools:
                found.add(current)
                current = parent.get(current)
        return found
