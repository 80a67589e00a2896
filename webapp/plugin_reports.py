"""The typed reports of a check and a pre-flight: what a source writes, the job keeps, a page shows.

Part of the plugin contract (webapp/plugin_api.py re-exports every name). A source hands each
snapshot of its checklist to the ``report`` the host gave it; the host stores ``to_json()`` in
the job's progress and reads it back with ``from_json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

PENDING, RUNNING, OK, WARNING, FAILED, SKIPPED = (
    "pending", "running", "ok", "warning", "failed", "skipped")
DONE = (OK, WARNING, FAILED, SKIPPED)
TESTING, SUCCESS, ERROR = "testing", "success", "error"


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class ErrorInfo:
    """Why a step, a check or a pre-flight failed, in words a person can act on."""

    category: str
    title: str
    message: str = ""
    advice: tuple[str, ...] = ()
    entity: str | None = None
    status: int | None = None
    server_message: str | None = None
    url: str | None = None
    missing_scope: str | None = None
    step: str | None = None  # the label of the step that failed
    also_failed: tuple[str, ...] = ()
    suggestion: str | None = None  # e.g. the likely correct Base URL
    missing_fields: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ErrorInfo | None:
        if not data:
            return None
        values = _known(cls, data)
        values.setdefault("category", "error")
        values.setdefault("title", "Failed")
        for name in ("advice", "also_failed", "missing_fields"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("advice", "also_failed", "missing_fields"):
            data[name] = list(data[name])
        return data


@dataclass(frozen=True)
class CheckStep:
    """One line of a checklist: what was checked, how it went, how long it took."""

    id: str
    label: str
    state: str = PENDING  # pending | running | ok | warning | failed | skipped
    summary: str = ""
    details: tuple[str, ...] = ()
    elapsed_ms: int | None = None
    error: ErrorInfo | None = None

    @property
    def done(self) -> bool:
        return self.state in DONE

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckStep:
        values = _known(cls, data)
        values["details"] = tuple(values.get("details") or ())
        values["error"] = ErrorInfo.from_json(values.get("error"))
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "state": self.state,
                "summary": self.summary, "details": list(self.details),
                "elapsed_ms": self.elapsed_ms,
                "error": self.error.to_json() if self.error else None}


@dataclass(frozen=True)
class Checklist:
    """A check's steps and, once it ended, its verdict: testing, success or error."""

    state: str = TESTING
    steps: tuple[CheckStep, ...] = ()
    learned: Mapping[str, Any] = field(default_factory=dict)
    error: ErrorInfo | None = None
    elapsed_ms: int | None = None

    @property
    def ended(self) -> bool:
        return self.state != TESTING

    @property
    def ok(self) -> bool:
        return self.state == SUCCESS

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Checklist:
        data = data or {}
        return cls(state=data.get("state") or TESTING,
                   steps=tuple(CheckStep.from_json(s) for s in data.get("steps") or ()),
                   learned=dict(data.get("learned") or {}),
                   error=ErrorInfo.from_json(data.get("error")),
                   elapsed_ms=data.get("elapsed_ms"))

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "steps": [s.to_json() for s in self.steps],
                "learned": dict(self.learned),
                "error": self.error.to_json() if self.error else None,
                "elapsed_ms": self.elapsed_ms}

    def interrupted(self, error: ErrorInfo, note: str = "Not finished") -> Checklist:
        """Return the checklist ended by an interruption: steps not finished are skipped."""
        steps = tuple(s if s.done else replace(s, state=SKIPPED, summary=note)
                      for s in self.steps)
        return replace(self, state=ERROR, steps=steps, error=error)


@dataclass(frozen=True)
class PreflightReport:
    """A pre-flight: its checklist, what would stop a read, warnings, and the totals found."""

    checklist: Checklist = field(default_factory=Checklist)
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    totals: Mapping[str, int | None] = field(default_factory=dict)  # None: unknown

    @property
    def ok(self) -> bool:
        return self.checklist.ok

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> PreflightReport:
        data = data or {}
        return cls(checklist=Checklist.from_json(data),
                   errors=tuple(data.get("errors") or ()),
                   warnings=tuple(data.get("warnings") or ()),
                   totals=dict(data.get("totals") or {}))

    def to_json(self) -> dict[str, Any]:
        return {**self.checklist.to_json(), "errors": list(self.errors),
                "warnings": list(self.warnings), "totals": dict(self.totals), "ok": self.ok}


# What a source calls with each snapshot of its checklist while a check or pre-flight runs.
Report = Callable[[Checklist], None]
