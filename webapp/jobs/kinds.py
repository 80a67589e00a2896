"""What a job is to its handler: the kinds an app runs, a handler's context, its exceptions.

Handlers are plain functions marked with `handler` (and `on_interrupted` for the tidy-up when
a job is found abandoned). Marking registers nothing: each area hands its modules to the app's
`Kinds` at app creation (`Kinds.collect`), so every app has its own registry and a test app
its own handlers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import FunctionType, ModuleType
from typing import Any

from webapp.extensions import db
from webapp.models import Job
from webapp.models.common import utcnow

Handler = Callable[["JobContext"], dict[str, Any] | None]
InterruptedHandler = Callable[[Job], None]
MARK = "__sdm_job__"  # (role, kind) on a marked function
CANCEL_CHECK_S = 0.5  # a job reads its cancel request at most this often


class JobCancelled(Exception):
    """Raised inside a handler when someone asked for the job to stop."""


class JobsUnavailable(Exception):
    """The job backend cannot be reached, so no job can start now."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.public_message = f"Background jobs are unavailable: {detail}"


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Mark the function that runs jobs of a kind (registered by `Kinds.collect`)."""

    def mark(fn: Handler) -> Handler:
        setattr(fn, MARK, ("run", kind))
        return fn

    return mark


def on_interrupted(kind: str) -> Callable[[InterruptedHandler], InterruptedHandler]:
    """Mark what tidies up when a job of a kind is found abandoned by its worker.

    The function receives the job row, already marked failed, inside the sweeping session;
    it changes what it owns and leaves the commit to the sweep.
    """

    def mark(fn: InterruptedHandler) -> InterruptedHandler:
        setattr(fn, MARK, ("interrupted", kind))
        return fn

    return mark


class Kinds:
    """The job kinds one app runs: the handler of each, and what tidies up after it."""

    def __init__(self) -> None:
        self._run: dict[str, Handler] = {}
        self._interrupted: dict[str, InterruptedHandler] = {}

    def add(self, kind: str, run: Handler,
            interrupted: InterruptedHandler | None = None) -> None:
        """Register a kind; a kind registered twice is refused (at start-up, not at run)."""
        if kind in self._run:
            raise ValueError(f"Job kind {kind!r} is registered twice")
        self._run[kind] = run
        if interrupted is not None:
            self._interrupted[kind] = interrupted

    def collect(self, *modules: ModuleType) -> None:
        """Register every function the modules mark with `handler` or `on_interrupted`."""
        tidy: dict[str, InterruptedHandler] = {}
        for module in modules:
            for value in vars(module).values():
                if type(value) is not FunctionType:  # type(), not isinstance: no proxy asked
                    continue
                role, kind = getattr(value, MARK, (None, None))
                if role == "run":
                    self.add(kind, value)
                elif role == "interrupted":
                    tidy[kind] = value
        for kind, fn in tidy.items():
            if kind not in self._run:
                raise ValueError(f"{fn.__qualname__} tidies up after {kind!r}, which no "
                                 "handler runs")
            self._interrupted[kind] = fn

    def __contains__(self, kind: object) -> bool:
        return kind in self._run

    def run(self, kind: str) -> Handler:
        """Return the handler of a kind (KeyError for an unknown kind)."""
        return self._run[kind]

    def interrupted(self, kind: str) -> InterruptedHandler | None:
        """Return what tidies up after an abandoned job of a kind, if anything."""
        return self._interrupted.get(kind)


class JobContext:
    """What a handler sees of its job: parameters, progress reports and cancellation."""

    def __init__(self, job: Job) -> None:
        self._cancel_read_at = 0.0
        self._cancel_asked = False
        self.job_id = job.id
        self.kind = job.kind
        self.params = dict(job.params or {})
        self.subject_id = job.subject_id
        self.organization_id = job.organization_id
        self.created_by_id = job.created_by_id

    @property
    def job(self) -> Job:
        return db.session.get(Job, self.job_id)

    def report(self, progress: dict[str, Any]) -> None:
        """Store the job's progress (and prove it is alive); commits the session."""
        job = self.job
        job.progress = progress
        job.heartbeat_at = utcnow()
        db.session.commit()

    def cancelled(self) -> bool:
        """Tell whether someone asked the job to stop.

        Cheap to ask often: the job row is read at most every CANCEL_CHECK_S, and once asked
        to stop the answer stays yes.
        """
        now = time.monotonic()
        if not self._cancel_asked and now - self._cancel_read_at >= CANCEL_CHECK_S:
            self._cancel_read_at = now
            db.session.expire_all()
            job = self.job
            self._cancel_asked = bool(job and job.cancel_requested)
        return self._cancel_asked

    is_set = cancelled  # a job's context serves where a threading.Event is asked is_set()
