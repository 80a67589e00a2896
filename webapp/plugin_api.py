"""The contracts of source and output plugins: what the host asks of them and what they answer.

A source plugin is a class with an ``id``, a ``name``, a ``description``, its configuration
fields (rendered by ``form_template``), and four verbs after Airbyte and Singer: ``check``
(can it connect), ``preflight`` (what would a read fetch, and what would stop it), ``sample``
(a few rows per collection for a preview) and ``read`` (every record, batch by batch).

An output plugin turns a run's stored records into one artifact, such as a zip file.
"""

from __future__ import annotations

import copy
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from oneroster.model import (
    ENTITIES,
    ENTITY_LABELS,
    FetchResult,
    OneRosterError,
    ProgressCallback,
    Record,
    Sink,
)

__all__ = [
    "CheckResult",
    "ConfigInvalid",
    "Field",
    "OutputPlugin",
    "OutputResult",
    "PreflightResult",
    "RunData",
    "Sample",
    "SourcePlugin",
    "SourceUnavailable",
    "StoredRecord",
]

FORM_TEMPLATE = "plugins/_config_form.html"


@dataclass(frozen=True)
class Field:
    """One setting of a plugin's configuration, as the form shows it."""

    name: str
    label: str
    kind: str = "text"  # int | text | choice | multichoice | list | connection
    default: Any = None
    help: str = ""
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    min: int | None = None
    max: int | None = None

    def parse(self, raw: Any) -> Any:
        """Turn a submitted value into the configuration value; raise ValueError with a reason."""
        if self.kind == "int":
            return self._parse_int(raw)
        if self.kind == "connection":
            if raw in (None, ""):
                if self.required:
                    raise ValueError("Choose a connection.")
                return None
            try:
                return int(raw)
            except (TypeError, ValueError):
                raise ValueError("Choose a connection from the list.") from None
        if self.kind == "multichoice":
            values = [raw] if isinstance(raw, str) else list(raw or [])
            allowed = {value for value, _ in self.choices}
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise ValueError(f"Unknown choice: {', '.join(map(str, unknown))}.")
            if self.required and not values:
                raise ValueError(f"Choose at least one of {self.label.lower()}.")
            return [value for value, _ in self.choices if value in values]
        if self.kind == "choice":
            value = self.default if raw in (None, "") else str(raw)
            if value not in {v for v, _ in self.choices}:
                raise ValueError(f"Choose one of: {', '.join(label for _, label in self.choices)}.")
            return value
        if self.kind == "list":
            items = raw.replace(",", "\n").splitlines() if isinstance(raw, str) else list(raw or [])
            return [str(item).strip() for item in items if str(item).strip()]
        value = "" if raw is None else str(raw).strip()
        if self.required and not value:
            raise ValueError(f"Enter {self.label.lower()}.")
        return value

    def _parse_int(self, raw: Any) -> int:
        if raw in (None, ""):
            if self.default is None:
                raise ValueError(f"Enter {self.label.lower()}.")
            return int(self.default)
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError("Enter a whole number.") from None
        if self.min is not None and value < self.min:
            raise ValueError(f"Enter at least {self.min}.")
        if self.max is not None and value > self.max:
            raise ValueError(f"Enter at most {self.max}.")
        return value


class ConfigInvalid(ValueError):
    """A configuration a plugin cannot use, with a message per field."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


class Configurable:
    """Configuration fields, defaults and validation shared by source and output plugins."""

    id: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str] = ""
    # The plugin's own settings, rendered by form_template.
    fields: ClassVar[tuple[Field, ...]] = ()
    # Settings every plugin of a kind shares, rendered by the flow's own steps.
    options: ClassVar[tuple[Field, ...]] = ()
    form_template: ClassVar[str] = FORM_TEMPLATE

    @classmethod
    def all_fields(cls) -> tuple[Field, ...]:
        return cls.fields + cls.options

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Return the configuration of a new node."""
        return {f.name: copy.deepcopy(f.default) for f in cls.all_fields()}

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Read a configuration from submitted values; return it with the errors per field.

        ``values`` may be a werkzeug MultiDict (lists come from ``getlist``) or a plain dict.
        """
        config: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for f in cls.all_fields():
            if f.kind == "multichoice" and hasattr(values, "getlist"):
                raw = values.getlist(f.name)
            else:
                raw = values.get(f.name, f.default)
            try:
                config[f.name] = f.parse(raw)
            except ValueError as exc:
                errors[f.name] = str(exc)
                config[f.name] = raw
        return config, errors

    @classmethod
    def clean(cls, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return a complete, valid configuration (defaults filled in); raise ConfigInvalid."""
        merged = {**cls.defaults(), **dict(config or {})}
        parsed, errors = cls.parse(merged)
        if errors:
            raise ConfigInvalid(errors)
        return {**merged, **parsed}


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
class CheckResult:
    """Whether a source can be reached with its configuration."""

    ok: bool
    message: str
    error: OneRosterError | None = None


@dataclass(frozen=True)
class PreflightResult:
    """What a read would fetch, and the errors that would prevent it."""

    ok: bool
    errors: tuple[str, ...] = ()
    totals: Mapping[str, int | None] = field(default_factory=dict)  # None: unknown
    details: Any = None  # the plugin's own checklist, for its template


@dataclass(frozen=True)
class Sample:
    """The first records of one collection, with its size when the source knows it."""

    entity: str
    records: tuple[Record, ...] = ()
    total: int | None = None
    more: bool = False  # True when there are more records than shown but no total
    error: OneRosterError | None = None


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

    # Whether the configuration names a saved connection (field "connection_id").
    uses_connection: ClassVar[bool] = False
    # The collections this source can read.
    entities: ClassVar[tuple[str, ...]] = ENTITIES

    def __init__(self, config: Mapping[str, Any] | None = None, *,
                 organization_id: int | None = None) -> None:
        self.config = self.clean(config)
        self.organization_id = organization_id

    @property
    def selected(self) -> tuple[str, ...]:
        """Return the collections this configuration reads, in the plugin's order."""
        wanted = self.config.get("entities") or self.entities
        return tuple(e for e in self.entities if e in wanted)

    @abstractmethod
    def check(self) -> CheckResult:
        """Tell whether the source can be reached."""

    @abstractmethod
    def preflight(self) -> PreflightResult:
        """Check everything a read needs and report what it would fetch."""

    @abstractmethod
    def sample(self, entities: Sequence[str], limit: int = 5) -> dict[str, Sample]:
        """Return the first records of each collection, without reading everything."""

    @abstractmethod
    def read(self, entities: Sequence[str], *, sink: Sink,
             progress: ProgressCallback | None = None,
             cancel: threading.Event | None = None,
             since: str | None = None) -> FetchResult:
        """Hand every record of each collection to the sink, batch by batch, and say how it went.

        The sink may be called from several threads. One failing collection does not stop the
        others; its failure is reported in the result. ``since`` asks for the changes after an
        ISO 8601 timestamp only (delta), ``tobedeleted`` records included.
        """


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as a run stored it."""

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
