"""The machinery of the connection test and the pre-flight: steps, budget, probes."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from oneroster.model import (
    ENTITY_LABELS,
    Category,
    ClientSettings,
    OneRosterError,
)
from oneroster.required_fields import missing_fields, required_fields

PENDING = "pending"
RUNNING = "running"
OK = "ok"
WARNING = "warning"
FAILED = "failed"
SKIPPED = "skipped"
DONE = (OK, WARNING, FAILED, SKIPPED)
STOP_CHECK_S = 0.25  # how often a wait looks whether the test was cancelled

@dataclass
class Step:
    """One line of the checklist: what was checked, how it went, how long it took."""

    id: str
    label: str
    state: str = PENDING
    summary: str = ""
    details: list[str] = field(default_factory=list)
    elapsed_ms: int | None = None
    error: dict[str, Any] | None = None


class Checklist:
    """The steps of one test, reported as they change; never carries the secret."""

    def __init__(self, steps: list[Step], *, report: Callable[[dict], None] | None,
                 secret: str | None, cancel: Any = None) -> None:
        self.steps = steps
        self._by_id = {step.id: step for step in steps}
        self.learned: dict[str, Any] = {}
        self._report = report
        self._secret = secret if secret and len(secret) >= 4 else None
        self._cancel = cancel
        self._started = time.monotonic()
        self.cancelled = False

    def step(self, step_id: str) -> Step:
        return self._by_id[step_id]

    def start(self, step_id: str) -> None:
        self.step(step_id).state = RUNNING

    def complete(self, step_id: str, state: str, summary: str, *, details: Iterable[str] = (),
                 error: dict[str, Any] | None = None, elapsed_s: float | None = None,
                 emit: bool = True) -> None:
        """Record how a step ended."""
        step = self.step(step_id)
        step.state = state
        step.summary = summary
        step.details = list(details)
        step.error = error
        step.elapsed_ms = None if elapsed_s is None else round(elapsed_s * 1000)
        if emit:
            self.emit()

    def fail(self, step_id: str, error: OneRosterError, *, elapsed_s: float | None = None,
             emit: bool = True) -> None:
        """Record a failed step with the error's category, advice and specifics.

        A step stopped by a cancel has not failed: finish() skips it with the steps not tried.
        """
        if error.category == Category.CANCELLED:
            return
        step = self.step(step_id)
        summary = error.title + (f" · HTTP {error.status}" if error.status else "")
        details = [error.message]
        if error.missing_scope and error.missing_scope not in error.message:
            details.append(f"Missing scope: {error.missing_scope}")
        if error.server_message:
            details.append(f"The server said: {error.server_message}")
        detail = {**error.to_dict(), "step": step.label}
        suggestion = getattr(error, "suggestion", None)
        if suggestion:
            detail["suggestion"] = suggestion
        self.complete(step_id, FAILED, summary, details=details, error=detail,
                      elapsed_s=elapsed_s, emit=emit)

    def skip(self, step_id: str, summary: str) -> None:
        self.complete(step_id, SKIPPED, summary, emit=False)

    def stopped(self) -> bool:
        """Tell whether someone asked the test to stop."""
        if not self.cancelled and self._cancel is not None and self._cancel.is_set():
            self.cancelled = True
        return self.cancelled

    def call_within(self, pool: ThreadPoolExecutor, clock: Budget, fn: Callable[..., Any],
                    *args: Any, **kwargs: Any) -> Any:
        """Run a call on the pool; wait for it no longer than the budget allows, and no
        longer than until someone cancels the test (OneRosterError CANCELLED then)."""
        future = pool.submit(fn, *args, **kwargs)
        while True:
            try:
                return future.result(timeout=min(clock.remaining(), STOP_CHECK_S))
            except FutureTimeout:
                if clock.remaining() <= 0:
                    future.cancel()
                    raise clock.exceeded() from None
                if self.stopped():
                    future.cancel()
                    raise OneRosterError(Category.CANCELLED,
                                         "The test was cancelled.") from None

    def snapshot(self, state: str = "testing") -> dict[str, Any]:
        """Return the checklist as JSON-ready data, the secret scrubbed."""
        data = {
            "state": state,
            "steps": [dataclasses.asdict(step) for step in self.steps],
            "learned": dict(self.learned),
            "elapsed_ms": round((time.monotonic() - self._started) * 1000),
            "error": None,
        }
        return self._scrub(data)

    def emit(self) -> None:
        if self._report is not None:
            self._report(self.snapshot())

    def finish(self, required: Iterable[str] | None = None) -> dict[str, Any]:
        """Close the checklist: skip what was not tried, decide the verdict, report it."""
        failed = [step for step in self.steps if step.state == FAILED]
        self.stopped()
        if self.cancelled:
            reason = "Not tried: the test was cancelled"
        elif failed:
            reason = f"Not tried: {failed[0].label} failed"
        else:
            reason = "Not tried"
        for step in self.steps:
            if step.state not in DONE:
                self.skip(step.id, reason)
        required_ok = all(self.step(s).state in (OK, WARNING) for s in (required or ()))
        ok = not failed and not self.cancelled and required_ok
        result = self.snapshot("success" if ok else "error")
        if failed:
            error = dict(failed[0].error or {"title": "Failed", "advice": [],
                                               "message": failed[0].summary})
            error["step"] = failed[0].label
            error["also_failed"] = [step.label for step in failed[1:]]
            result["error"] = self._scrub(error)
        elif not ok:
            reason = ("The test was cancelled." if self.cancelled
                      else "Not every required step completed.")
            category = Category.CANCELLED if self.cancelled else Category.INVALID_RESPONSE
            result["error"] = OneRosterError(category, reason).to_dict()
        if self._report is not None:
            self._report(result)
        return result

    def _scrub(self, value: Any) -> Any:
        if self._secret is None:
            return value
        if isinstance(value, str):
            return value.replace(self._secret, "[secret]")
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub(v) for v in value]
        return value


class Budget:
    """The time a test may take; every wait is bounded by what is left of it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def exceeded(self, entity: str | None = None) -> OneRosterError:
        return OneRosterError(
            Category.BUDGET_EXCEEDED,
            f"No answer within the test's time budget of {self.seconds:g} s.",
            entity=entity)


def open_client(settings: ClientSettings, clock: Budget,
                factory: Callable[[ClientSettings], Any] | None = None) -> Any:
    """Open a client whose timeouts and retries fit in what is left of the budget."""
    left = max(clock.remaining(), 0.5)
    bounded = dataclasses.replace(
        settings,
        time_budget=left,
        connect_timeout=min(settings.connect_timeout, left),
        read_timeout=min(settings.read_timeout, left),
        max_retries=min(settings.max_retries, 2),
    )
    if factory is None:
        from oneroster.client import OneRosterClient

        factory = OneRosterClient
    return factory(bounded)


@dataclass(frozen=True)
class Probe:
    """What the first page of one collection showed."""

    entity: str
    status: int
    count: int
    total: int | None
    has_link: bool
    next_url: str | None
    elapsed_s: float
    limit: int
    missing: tuple[str, ...] = ()
    sample_id: str | None = None
    records: tuple[Any, ...] = ()

    @property
    def more_pages(self) -> bool:
        """Tell whether the collection goes on past this page (as far as one page shows)."""
        return ((self.total is not None and self.total > self.count)
                or bool(self.next_url) or self.count >= self.limit)


def probe_collection(client: Any, entity: str, limit: int, version: str,
                     keep: bool = False) -> Probe:
    """Read the first page of a collection and check its first record's required fields."""
    page = client.get_page(entity, offset=0, limit=limit)
    sample = page.records[0] if page.records else None
    missing = missing_fields(sample.raw, required_fields(entity, version)) if sample else []
    return Probe(
        entity=entity, status=page.status, count=len(page.records), total=page.total,
        has_link=page.has_link, next_url=page.next_url, elapsed_s=page.elapsed_s, limit=limit,
        missing=tuple(missing), sample_id=sample.sourced_id if sample else None,
        records=tuple(page.records) if keep else (),
    )


def count_text(probe: Probe) -> str:
    """Say how many records a collection holds, as far as its first page tells."""
    if probe.total is not None and probe.total < probe.count:
        return f"at least {probe.count:,} records (the server's total says {probe.total:,})"
    if probe.total is not None and probe.count < min(probe.total, probe.limit):
        return f"{probe.total:,} records by the server's total ({probe.count:,} on the first page)"
    if probe.total is not None:
        return f"{probe.total:,} record{'s' if probe.total != 1 else ''}"
    if probe.more_pages:
        return f"more than {probe.count:,} records"
    return f"{probe.count:,} record{'s' if probe.count != 1 else ''} (no total sent)"


def collection_failure(error: OneRosterError, entity: str,
                       suggestion: str | None) -> OneRosterError:
    """Complete a collection's error with what the person needs to act on it."""
    if error.entity is None:
        error.entity = entity
    if error.category == Category.FORBIDDEN and not error.missing_scope:
        error.message = (f"{error.message} This client may not read "
                         f"{ENTITY_LABELS[entity]}: ask for the scope that grants it "
                         "(roster-core.readonly or roster.readonly).")
    if suggestion and error.category in (Category.NOT_FOUND, Category.NOT_ONEROSTER):
        error.suggestion = suggestion  # type: ignore[attr-defined]
        error.message = f"{error.message} Likely correct Base URL: {suggestion}"
    return error


def short_scope(scope: str) -> str:
    """Return a scope's last path segment: roster-core.readonly for the full scope URL."""
    return scope.rstrip("/").rsplit("/", 1)[-1]
