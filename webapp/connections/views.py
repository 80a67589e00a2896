"""What the test and pre-flight fragments show: a verdict from the connection row, the
checklist (live or final) from the test's job row."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import url_for

from webapp.connections import services
from webapp.connections.forms import (
    AUTH_METHODS,
    PROXY_COUNTRIES,
    SIGNATURE_METHODS,
    VERSIONS,
    FormState,
    initial,
    read,
    switch_template,
)
from webapp.connections.providers import standard_scopes
from webapp.extensions import db
from webapp.inputs import without_control
from webapp.models import Connection, Job, JobStatus, Status, User
from webapp.plugin_api import (
    PENDING,
    RUNNING,
    Checklist,
    CheckStep,
    ErrorCategory,
    ErrorInfo,
    PreflightReport,
    ProviderTemplate,
)

INTERRUPTED_TITLE = "Test interrupted"
ECHO_MAX = 1000  # the longest typed value shown back after a refused submit
FORM_KEY = "form"  # the DOM id suffix of the test region inside the connection form
_REGION = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class TestView:
    """One test's (or pre-flight's) state, checklist and verdict, ready for the fragment."""

    __test__ = False  # not a pytest class, despite its name

    key: str  # DOM id suffix: the connection id, "form", or "preflight-<job id>"
    state: str  # configured | testing | success | error | cancelled | idle
    poll_url: str
    checklist: Checklist = field(default_factory=Checklist)
    start_url: str | None = None  # where the Test button posts; None: no button
    in_form: bool = False  # the region sits inside the connection form (no nested form)
    job_id: str | None = None
    connection_id: int | None = None
    by: str | None = None  # who started (while testing) or ran (after) the test
    at: datetime | None = None  # when the verdict was reached
    cancel_url: str | None = None  # where Cancel test posts while testing; None: no button
    cancelling: bool = False  # someone asked the running test to stop
    cancelled: Mapping[str, Any] | None = None  # a later test that was cancelled: by, at
    started: datetime | None = None  # when a running test started (UTC), for its clock
    run: Mapping[str, Any] | None = None  # a run that vouched for the connection

    @property
    def steps(self) -> tuple[CheckStep, ...]:
        return self.checklist.steps

    @property
    def error(self) -> ErrorInfo | None:
        return self.checklist.error

    @property
    def elapsed_ms(self) -> int | None:
        return self.checklist.elapsed_ms

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
    def shown_steps(self) -> list[CheckStep]:
        """Return the steps that have started: each appears as the test reaches it.

        Steps that run one after another (Base URL, proxy, token) are reported when they
        end; while a test runs, the first one not reported yet is the one it waits on.
        """
        shown = [s for s in self.steps if s.state != PENDING]
        if self.running and not any(s.state == RUNNING for s in shown):
            waiting = next((s for s in self.steps if s.state == PENDING), None)
            if waiting is not None:
                shown.append(dataclasses.replace(waiting, state=RUNNING))
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
        return sum(1 for s in self.steps if s.done)

    @property
    def signature(self) -> str:
        """Return a short fingerprint of what the fragment shows, to skip unchanged polls."""
        parts = [self.state, str(self.cancelling), str(self.at), str(self.cancelled)]
        # (the step's clock ticks in the browser)
        parts += [f"{s.id}:{s.state}:{s.summary}" for s in self.steps]
        return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


def _name(user_id: int | None) -> str | None:
    user = db.session.get(User, user_id) if user_id else None
    return user.name if user else None


def connection_view(connection: Connection) -> TestView:
    """Build the test region of a saved connection: its verdict, and its job's checklist."""
    status = Status(connection.status)
    summary = connection.summary
    job = db.session.get(Job, connection.test_job_id) if connection.test_job_id else None
    common = {
        "key": str(connection.id),
        "poll_url": url_for("connections.test_status", connection_id=connection.id),
        "start_url": url_for("connections.start_test", connection_id=connection.id),
        "job_id": connection.test_job_id,
        "connection_id": connection.id,
    }
    if status == Status.CONFIGURED:
        return TestView(state="configured", cancelled=summary.cancelled, **common)
    if status == Status.TESTING:
        return TestView(state="testing", checklist=live_checklist(job),
                        by=started_by(job), started=job.started_at if job else None,
                        cancel_url=url_for("connections.cancel_test",
                                           connection_id=connection.id),
                        cancelling=bool(job and job.cancel_requested), **common)
    if job is not None:
        checklist = ended_checklist(job, interrupted=summary.title == INTERRUPTED_TITLE)
    else:  # no job behind the verdict: a run vouched for it, or its job is gone
        error = ErrorInfo("error", summary.title, step=summary.step) \
            if status == Status.ERROR else None
        checklist = Checklist(status.value, error=error, elapsed_ms=summary.elapsed_ms)
    return TestView(state=status.value, checklist=checklist,
                    by=connection.last_tested_by.name if connection.last_tested_by else None,
                    at=connection.last_tested_at, cancelled=summary.cancelled,
                    run=summary.run, **common)


def live_checklist(job: Job | None) -> Checklist:
    """Return the checklist a running test's job reported last."""
    return Checklist.from_json(job.progress if job is not None else None)


def ended_checklist(job: Job, *, interrupted: bool = False) -> Checklist:
    """Return the checklist of a job that ended: its result, or its progress interrupted."""
    if JobStatus(job.status) == JobStatus.SUCCEEDED and job.result and not interrupted:
        return Checklist.from_json(job.result)
    error = ErrorInfo("interrupted", INTERRUPTED_TITLE,
                      job.error or "The test stopped before it finished.",
                      advice=("Run the test again",))
    return live_checklist(job).interrupted(error, "Not finished: test interrupted")


def started_by(job: Job | None) -> str | None:
    """Name who started a test: a person, or what started it for them (a schedule)."""
    if job is None:
        return None
    return (job.params or {}).get("started_by") or _name(job.created_by_id)


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
    params = job.params or {}
    region = params.get("region") or FORM_KEY
    common = {"key": region, "in_form": True, "job_id": job.id, "by": _name(job.created_by_id),
              "poll_url": url_for("connections.values_test_status", job_id=job.id),
              "start_url": values_test_url(params.get("editing"), region) if with_button
              else None}
    if not JobStatus(job.status).terminal:
        return TestView(state="testing", checklist=live_checklist(job),
                        cancelling=job.cancel_requested, started=job.started_at,
                        cancel_url=url_for("connections.cancel_values_test", job_id=job.id),
                        **common)
    checklist = ended_checklist(job)
    if checklist.error is not None and checklist.error.category == ErrorCategory.CANCELLED:
        return TestView(state="cancelled", checklist=dataclasses.replace(checklist, error=None),
                        at=job.finished_at, **common)
    return TestView(state=_state(checklist), checklist=checklist, at=job.finished_at, **common)


def invalid_view(errors: dict[str, str], connection_id: int | None,
                 region: str = FORM_KEY) -> TestView:
    """Build the region for values too incomplete to test: the form highlights each field."""
    count = len(errors)
    error = ErrorInfo("invalid_values", "Fix the form first",
                      f"{count} field{'s' if count != 1 else ''} above "
                      f"need{'s' if count == 1 else ''} attention (highlighted); "
                      "then test again.")
    return TestView(key=region, state="idle", poll_url="", in_form=True,
                    checklist=Checklist(error=error),
                    start_url=values_test_url(connection_id, region))


def preflight_view(job: Job, poll_url: str = "") -> TestView:
    """Build the checklist region of a pre-flight's job."""
    common = {"key": f"preflight-{job.id}", "job_id": job.id, "by": _name(job.created_by_id),
              "poll_url": poll_url,
              "connection_id": int(job.subject_id) if job.subject_id else None}
    if not JobStatus(job.status).terminal:
        return TestView(state="testing", checklist=live_checklist(job), started=job.started_at,
                        **common)
    checklist = ended_checklist(job)
    return TestView(state=_state(checklist), checklist=checklist, at=job.finished_at, **common)


def preflight_report(job: Job) -> PreflightReport:
    """Return a finished pre-flight's report; an interrupted one's says why it stopped."""
    if JobStatus(job.status) == JobStatus.SUCCEEDED and job.result:
        return PreflightReport.from_json(job.result)
    checklist = ended_checklist(job)
    return PreflightReport(checklist, errors=(checklist.error.message,))


def _state(checklist: Checklist) -> str:
    return "success" if checklist.ok else "error"


# --- The connection form --------------------------------------------------------------

def form_state(args: Mapping[str, str], *, app_url: str,
               connection: Connection | None = None) -> FormState:
    """Return the form to show: a template switch keeps typed values, else a fresh start."""
    if "prefilled_from" in args:
        values = read(args)
        new = services.template_or_default(values["provider"])
        if connection is not None and values["provider"] == connection.provider:
            new_id = connection.provider  # keep a provider whose template is gone
        else:
            new_id = new.id
        old = services.provider_template(args.get("prefilled_from"))
        values = switch_template(values, old, new, app_url) | {"provider": new_id}
        return FormState(values=values, template=new, replace_secret=args.get("replace") == "1")
    if connection is not None:
        return FormState(values=services.connection_values(connection),
                         template=services.template_or_default(connection.provider))
    template = services.template_or_default(args.get("provider"))
    return FormState(values=initial(template, app_url), template=template)


def invalid_state(values: dict[str, str], errors: dict[str, str],
                  template: ProviderTemplate | None, *, secret_typed: bool,
                  kept_client_side: bool) -> FormState:
    """Return the form after a refused submit: typed values kept, the secret never echoed.

    A value far over its limit comes back as its beginning only, never the whole of it.
    """
    values = {name: without_control(value)[:ECHO_MAX] for name, value in values.items()}
    return FormState(values=values, template=template or services.template_or_default(None),
                     errors=errors, secret_dropped=secret_typed and not kept_client_side,
                     replace_secret=secret_typed or "client_secret" in errors)


def form_context(state: FormState, *, connection: Connection | None,
                 embed: Any = None) -> dict[str, Any]:
    """Return what the form template needs besides the request."""
    return {
        "state": state,
        "values": state.values,
        "errors": state.errors,
        "template": state.template,
        "templates": services.provider_templates(),
        "connection": connection,
        "embed": embed,
        "versions": VERSIONS,
        "auth_methods": AUTH_METHODS,
        "signature_methods": SIGNATURE_METHODS,
        "standard_scopes": standard_scopes(state.values.get("oneroster_version") or "1.2"),
        "proxy_countries": PROXY_COUNTRIES,
        "proxies": services.proxies(),
    }
