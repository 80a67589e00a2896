"""Background jobs: a runner per app, the kinds it runs, and the sweep of abandoned jobs.

The runner lives in ``app.extensions["sdm.jobs"]``, chosen by SDM_JOBS when the app is
created; each area then registers its job kinds with it (``register_jobs`` in the area's
package). Handlers are plain functions: nothing here assumes the job runs in the web process.

- kinds.py: the `handler` / `on_interrupted` marks, the per-app `Kinds`, a handler's context.
- runners.py: inline (tests), in-process thread pool (default), RQ workers (SDM_JOBS=rq).
- abandoned.py: heartbeats, the one `sweep` that marks abandoned jobs interrupted, the Watch.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType

from flask import Flask, current_app

from webapp.jobs.abandoned import (
    HEARTBEAT_S,
    INTERRUPTED,
    STALE_AFTER,
    SWEEP_S,
    WORST_CASE,
    Watch,
    is_stale,
    mark_interrupted,
    overran,
    sweep,
)
from webapp.jobs.kinds import (
    JobCancelled,
    JobContext,
    JobsUnavailable,
    Kinds,
    handler,
    on_interrupted,
)
from webapp.jobs.runners import RQRunner, Runner, SyncRunner, ThreadRunner, execute

__all__ = [
    "HEARTBEAT_S", "INTERRUPTED", "STALE_AFTER", "SWEEP_S", "WORST_CASE", "JobCancelled",
    "JobContext", "JobsUnavailable", "Kinds", "RQRunner", "Runner", "SyncRunner",
    "ThreadRunner", "Watch", "execute", "handler", "init_app", "is_stale", "mark_interrupted",
    "on_interrupted", "overran", "runner", "sweep",
]


def runner() -> Runner:
    """Return the current app's job runner."""
    return current_app.extensions["sdm.jobs"]


def init_app(app: Flask, areas: Iterable[ModuleType] = ()) -> None:
    """Choose the job runner from SDM_JOBS and let each area register its job kinds."""
    backend = app.config["JOBS"]
    if backend == "sync":
        chosen: Runner = SyncRunner()
    elif backend == "thread":
        chosen = ThreadRunner(app.config["JOB_WORKERS"])
    elif backend == "rq":
        chosen = RQRunner(app.config["REDIS_URL"])
    else:
        raise ValueError(f"SDM_JOBS must be 'thread', 'rq' or 'sync', not {backend!r}")
    for area in areas:
        area.register_jobs(chosen.kinds)
    app.extensions["sdm.jobs"] = chosen
    if isinstance(chosen, ThreadRunner):
        chosen.start(app)
