"""An example SIS signed in to by account: a check in three steps, a pre-flight built on it.

The "server" is a table in memory. The account "locked" is refused at sign-in. While a test
holds ``ExampleSource.gate`` closed, the check waits after reaching the server, so the live
checklist can be seen half done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from webapp.plugin_api import (
    ERROR,
    FAILED,
    OK,
    RUNNING,
    SKIPPED,
    SUCCESS,
    TESTING,
    CancelToken,
    Checklist,
    CheckStep,
    EntityResult,
    ErrorCategory,
    ErrorInfo,
    FetchResult,
    Field,
    PreflightReport,
    ProgressCallback,
    ProviderTemplate,
    Record,
    Report,
    Sample,
    Sink,
    SourceConfig,
    SourcePlugin,
)

ROSTER = {
    "orgs": [Record("orgs", "school-1", "active", None,
                    {"sourcedId": "school-1", "name": "Example High", "type": "school"})],
    "users": [Record("users", f"user-{i}", "active", None,
                     {"sourcedId": f"user-{i}", "givenName": f"Pupil {i}"}) for i in range(3)],
}
GATE_WAIT_S = 10.0


class ExampleSource(SourcePlugin):
    """Read the example SIS as an account."""

    id = "source-example"
    name = "Example SIS"
    description = "A third-party source signed in to by account."
    entities = ("orgs", "users")
    fields = (Field("account", "Account", "text", required=True),)
    check_steps = (("reach", "Reach the example server"), ("sign-in", "Sign in to the account"),
                   ("collections", "Read the collections"))
    gate = threading.Event()  # open unless a test closes it
    gate.set()

    @classmethod
    def check(cls, config: SourceConfig, report: Report, cancel: CancelToken) -> Checklist:
        started = time.monotonic()
        steps = [CheckStep(step_id, label) for step_id, label in cls.check_steps]

        def snapshot(state: str = TESTING, error: ErrorInfo | None = None) -> Checklist:
            elapsed = int((time.monotonic() - started) * 1000)
            checklist = Checklist(state, tuple(steps), error=error,
                                  elapsed_ms=None if state == TESTING else elapsed)
            report(checklist)
            return checklist

        steps[0] = CheckStep("reach", steps[0].label, OK, "example.invalid answered", elapsed_ms=1)
        steps[1] = CheckStep("sign-in", steps[1].label, RUNNING)
        snapshot()
        cls.gate.wait(GATE_WAIT_S)
        if cls.account(config) == "locked":
            error = ErrorInfo(ErrorCategory.AUTHENTICATION.value, "Authentication Failed",
                              "The example server refused the account.",
                              advice=("Ask the example SIS to unlock the account.",),
                              step=steps[1].label)
            steps[1] = CheckStep("sign-in", steps[1].label, FAILED, "Account refused",
                                 elapsed_ms=2, error=error)
            steps[2] = CheckStep("collections", steps[2].label, SKIPPED, "Not tried")
            return snapshot(ERROR, error)
        steps[1] = CheckStep("sign-in", steps[1].label, OK, "Signed in", elapsed_ms=2)
        counts = ", ".join(f"{len(ROSTER[e])} {e}" for e in cls.entities)
        steps[2] = CheckStep("collections", steps[2].label, OK, counts, elapsed_ms=1)
        return snapshot(SUCCESS)

    @staticmethod
    def account(config: SourceConfig) -> str:
        """Return the account signed in to: the node's, or the saved connection's Client ID."""
        return config.options.get("account") or getattr(config.connection, "client_id", "")

    @classmethod
    def preflight(cls, config: SourceConfig, report: Report,
                  cancel: CancelToken) -> PreflightReport:
        checklist = cls.check(config, report, cancel)
        if not checklist.ok:
            error = checklist.error
            return PreflightReport(checklist, errors=(f"{error.title}: {error.message}",))
        chosen = cls.chosen(config.options)
        return PreflightReport(checklist, totals={e: len(ROSTER[e]) for e in chosen})

    def sample(self, entities: Sequence[str], limit: int = 5) -> dict[str, Sample]:
        return {e: Sample(e, tuple(ROSTER[e][:limit]), total=len(ROSTER[e])) for e in entities}

    def read(self, entities: Sequence[str], *, sink: Sink,
             progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None,
             since: str | None = None) -> FetchResult:
        results = {}
        for entity in entities:
            sink(entity, ROSTER[entity])
            results[entity] = EntityResult(entity, True, len(ROSTER[entity]), pages=1,
                                           duplicates=0, elapsed_s=0.0)
        return FetchResult(results)


class ExampleConnectedSource(ExampleSource):
    """Read the example SIS through a saved connection: its Client ID is the account."""

    id = "source-example-connected"
    name = "Example SIS (saved connection)"
    uses_connection = True
    fields = (Field("connection_id", "Connection", "connection", required=True),)


PROVIDER = ProviderTemplate(id="example-sis", name="Example SIS",
                            description="A SIS whose connections the example plugin tests.",
                            base_url="https://example.invalid/api",
                            source=ExampleConnectedSource.id)
