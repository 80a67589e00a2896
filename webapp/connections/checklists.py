"""What the test and pre-flight fragments show, read from a connection row or a job row."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import url_for

from webapp.extensions import db
from webapp.models import Connection, Job, JobStatus, Status, User

FORM_KEY = "form"  # the DOM id suffix of the test region inside the connection form
_REGION = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class TestView:
    """One test's (or pre-flight's) state, steps and verdict, ready for the fragment."""

    __test__ = False  # not a pytest class, despite its name

    key: str  # DOM id suffix: the connection id, "form", or "preflight-<job id>"
    state: str  # configured | testing | success | error
    poll_url: str
    steps: tuple[dict[str, Any], ...] = ()
    error: dict[str, Any] | None = None
    learned: dict[str, Any] = field(default_factory=dict)
    start_url: str | None = None  # where the Test button posts; None: no button
    in_form: bool = False  # the region sits inside the connection form (no nested form)
    job_id: str | None = None
    connection_id: int | None = None
    by: str | None = None  # who started (while testing) or ran (after) the test
    at: datetime | None = None  # when the verdict was reached
    elapsed_ms: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # errors/warnings/totals of a pre-flight
    cancel_url: str | None = None  # where Cancel test posts while testing; None: no button
    cancelling: bool = False  # someone asked the running test to stop
    cancelled: dict[str, Any] | None = None  # a later test that was cancelled: by, at
    started: datetime | None = None  # when a running test started (UTC), for its clock

    @property
    def running(self) -> bool:
        return self.state == "testing"

    @property
    def watches(self) -> bool:
        """Tell whether the idle region of a saved connection asks now and then for news."""
        return bool(self.connection_id) and not self.in_form and not self.running

    @property
    def label(self) -> str:
        return self.state.capitalize()

    @property
    def cancelled_at(self) -> datetime | None:
        at = (self.cancelled or {}).get("at")
        return datetime.fromisoformat(at.removesuffix("Z")) if at else None

    @property
    def dom_id(self) -> str:
        return f"test-status-{self.key}"

    @property
    def shown_steps(self) -> list[dict[str, Any]]:
        """Return the steps that have started: each appears as the test reaches it.

        Steps that run one after another (Base URL, proxy, token) are reported when they
        end; while a test runs, the first one not reported yet is the one it waits on.
        """
        shown = [s for s in self.steps if s.get("state") != "pending"]
        if self.running and not any(s.get("state") == "running" for s in shown):
            waiting = next((s for s in self.steps if s.get("state") == "pending"), None)
            if waiting is not None:
                shown.append({**waiting, "state": "running"})
        return shown

    @property
    def waiting_s(self) -> int | None:
        """Return how long the running step has been waiting, in whole seconds."""
        if not self.running or self.started is None or self.elapsed_ms is None:
            return None
        since = (datetime.now(UTC).replace(tzinfo=None) - self.started).total_seconds()
        return max(0, int(since - self.elapsed_ms / 1000))

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps if s.get("state") not in ("pending", "running"))

    @property
    def signature(self) -> str:
        """Return a short fingerprint of what the fragment shows, to skip unchanged polls."""
        parts = [self.state, str(self.cancelling), str(self.at), str(self.cancelled)]
        # (the step's clock ticks in the browser)
        parts += [f"{s.get('id')}:{s.get('state')}:{s.get('summary')}" for s in self.steps]
        return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


def _name(user_id: int | None) -> str | None:
    user = db.session.get(User, user_id) if user_id else None
    return user.name if user else None


def connection_view(connection: Connection) -> TestView:
    """Build the test region of a saved connection from its row."""
    status = Status(connection.status)
    last = connection.last_test or {}
    common = {
        "key": str(connection.id),
        "poll_url": url_for("connections.test_status", connection_id=connection.id),
        "start_url": url_for("connections.start_test", connection_id=connection.id),
        "job_id": connection.test_job_id,
        "connection_id": connection.id,
    }
    if status == Status.CONFIGURED:
        return TestView(state="configured", cancelled=last.get("cancelled"), **common)
    if status == Status.TESTING:
        job = db.session.get(Job, connection.test_job_id) if connection.test_job_id else None
        started = last.get("started_at")
        return TestView(state="testing", steps=tuple(last.get("steps") or ()),
                        by=last.get("started_by"), elapsed_ms=last.get("elapsed_ms"),
                        started=datetime.fromisoformat(started.removesuffix("Z"))
                        if started else None,
                        cancel_url=url_for("connections.cancel_test",
                                           connection_id=connection.id),
                        cancelling=bool(job and job.cancel_requested), **common)
    return TestView(state=status.value, steps=tuple(last.get("steps") or ()),
                    error=last.get("error"), learned=last.get("learned") or {},
                    by=connection.last_tested_by.name if connection.last_tested_by else None,
                    at=connection.last_tested_at, elapsed_ms=last.get("elapsed_ms"),
                    cancelled=last.get("cancelled"), **common)


def safe_region(value: str | None) -> str:
    """Return a region key fit for a DOM id (it is echoed into HTML), else the form's default."""
    return value if value and _REGION.match(value) else FORM_KEY


def form_view(connection: Connection | None, region: str = FORM_KEY) -> TestView:
    """Build the idle test region inside the connection form (new, or editing `connection`)."""
    return TestView(key=region, state="idle", poll_url="", in_form=True,
                    start_url=values_test_url(connection.id if connection else None, region))


def values_test_url(connection_id: int | None, region: str = FORM_KEY) -> str:
    """Return where the form's Test Connection button posts."""
    region = region if region != FORM_KEY else None
    if connection_id is None:
        return url_for("connections.test_values", region=region)
    return url_for("connections.test_edited_values", connection_id=connection_id, region=region)


def job_view(job: Job, *, with_button: bool = True) -> TestView:
    """Build the test region of a test of unsaved values from its job row."""
    status = JobStatus(job.status)
    params = job.params or {}
    region = params.get("region") or FORM_KEY
    common = {"key": region, "in_form": True, "job_id": job.id, "by": _name(job.created_by_id),
              "poll_url": url_for("connections.values_test_status", job_id=job.id),
              "start_url": values_test_url(params.get("editing"), region) if with_button
              else None}
    if not status.terminal:
        data = job.progress or {}
        return TestView(state="testing", steps=tuple(data.get("steps") or ()),
                        elapsed_ms=data.get("elapsed_ms"), cancelling=job.cancel_requested,
                        started=job.started_at,
                        cancel_url=url_for("connections.cancel_values_test", job_id=job.id),
                        **common)
    view = _verdict(job, common)
    if (view.error or {}).get("category") == "cancelled":
        return dataclasses.replace(view, state="cancelled", error=None)
    return view


def invalid_view(errors: dict[str, str], connection_id: int | None,
                 region: str = FORM_KEY) -> TestView:
    """Build the region for values too incomplete to test: the form highlights each field."""
    count = len(errors)
    error = {"category": "invalid_values", "title": "Fix the form first",
             "message": f"{count} field{'s' if count != 1 else ''} above "
                        f"need{'s' if count == 1 else ''} attention (highlighted); "
                        "then test again.",
             "advice": [], "step": None}
    return TestView(key=region, state="idle", poll_url="", in_form=True, error=error,
                    start_url=values_test_url(connection_id, region))


def preflight_view(job: Job, poll_url: str = "") -> TestView:
    """Build the pre-flight region of a job: the same checklist, plus its errors and totals."""
    status = JobStatus(job.status)
    common = {"key": f"preflight-{job.id}", "job_id": job.id, "by": _name(job.created_by_id),
              "poll_url": poll_url,
              "connection_id": int(job.subject_id) if job.subject_id else None}
    if not status.terminal:
        data = job.progress or {}
        return TestView(state="testing", steps=tuple(data.get("steps") or ()),
                        elapsed_ms=data.get("elapsed_ms"), started=job.started_at, **common)
    view = _verdict(job, common)
    result = job.result or {}
    extra = {"errors": result.get("errors") or ([view.error["message"]] if view.error else []),
             "warnings": result.get("warnings") or [], "totals": result.get("totals") or {}}
    return dataclasses.replace(view, extra=extra)


def _verdict(job: Job, common: dict[str, Any]) -> TestView:
    result = job.result or {}
    if JobStatus(job.status) == JobStatus.SUCCEEDED and result:
        return TestView(state="success" if result.get("state") == "success" else "error",
                        steps=tuple(result.get("steps") or ()), error=result.get("error"),
                        learned=result.get("learned") or {}, at=job.finished_at,
                        elapsed_ms=result.get("elapsed_ms"), **common)
    data = job.progress or {}
    error = {"category": "interrupted", "title": "Test interrupted",
             "message": job.error or "The test stopped before it finished.",
             "advice": ["Run the test again"]}
    steps = tuple({**s, "state": "skipped", "summary": "Not finished"}
                  if s.get("state") in ("pending", "running") else s
                  for s in data.get("steps") or ())
    return TestView(state="error", steps=steps, error=error, at=job.finished_at, **common)
