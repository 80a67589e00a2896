"""A run's output: the artifact (such as the CSV bundle) its output plugin writes.

The run is Completed once its records are stored, merged and checked; the artifact is then
written by a job of its own ("run.output"), so a slow or failing output never holds up or
undoes the run, and it can be written again. ``Run.output`` tracks it:
{"state": "pending" | "writing" | "ready" | "failed", "plugin", "name", "modes", "job_id",
 and once ready "filename", "media_type", "size", "files", "notes"; "error" when failed}.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from sqlalchemy.orm.attributes import set_committed_value

from webapp import jobs
from webapp.extensions import db
from webapp.models import Job, JobStatus, Run
from webapp.plugins import registry
from webapp.runs.artifacts import artifacts_dir
from webapp.runs.stored import StoredRunData

log = logging.getLogger(__name__)

KIND = "run.output"
OPEN = ("pending", "writing")
INTERRUPTED = "Interrupted: the worker writing the output stopped. Write it again."


def output_node(run: Run) -> dict[str, Any] | None:
    return next((n for n in (run.graph or {}).get("nodes", []) if n.get("kind") == "output"),
                None)


def prepare(run: Run, modes: dict[str, str], absent: dict[str, str] | None = None) -> None:
    """Mark a completed run's output pending (the caller commits, then calls ``start``).

    ``absent`` says why collections the run asked for hold nothing (not granted, say).
    """
    node = output_node(run)
    if node is None:
        run.output = None
        return
    cls = registry().outputs.get(node.get("plugin", ""))
    run.output = {"state": "pending", "plugin": node.get("plugin"),
                  "name": cls.name if cls else node.get("plugin"), "modes": modes,
                  "absent": dict(absent or {})}


def pending(run: Run) -> bool:
    return bool(run.output) and run.output.get("state") in OPEN


def start(run: Run, created_by_id: int | None = None) -> None:
    """Start the job that writes a run's pending output."""
    runner = jobs.runner()
    job = runner.create(KIND, organization_id=run.organization_id, subject=run,
                        created_by_id=created_by_id, run_id=run.id)
    run.output = {**run.output, "job_id": job.id}
    db.session.commit()
    runner.dispatch(job.id)


def _set(run: Run, **changes: Any) -> None:
    run.output = {**(run.output or {}), **changes}  # a new dict, so the change is saved


@jobs.handler(KIND)
def write_output(ctx: jobs.JobContext) -> dict[str, Any]:
    """Write the artifact of a completed run."""
    run = db.session.get(Run, ctx.params["run_id"])
    started = time.perf_counter()
    _set(run, state="writing")
    db.session.commit()
    try:
        _write(run)
    except Exception:
        log.exception("output of run %s failed", run.id)
        db.session.rollback()
        run = db.session.get(Run, ctx.params["run_id"])
        _set(run, state="failed",
             error="Writing the output failed; the error has been logged.")
    finally:
        if pending(run):
            _set(run, state="failed", error="Writing the output stopped unexpectedly.")
        db.session.commit()
    return {"state": run.output["state"],
            "timings": {"output_s": round(time.perf_counter() - started, 3)}}


def _write(run: Run) -> None:
    node = output_node(run) or {}
    cls = registry().outputs.get(node.get("plugin", ""))
    if cls is None:
        _set(run, state="failed",
             error=f"The output plugin {node.get('plugin')!r} is not installed.")
        return
    data = StoredRunData(run.id, run.flow_name, dict(run.output.get("modes") or {}),
                         absent=run.output.get("absent"))
    folder = artifacts_dir() / str(run.organization_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"run-{run.id}-{uuid.uuid4().hex[:12]}.{cls.extension}"
    path = folder / name
    try:
        plugin = cls(node.get("config") or {}, organization_id=run.organization_id)
        written = plugin.write(data, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    old = run.artifact
    run.artifact = f"{run.organization_id}/{name}"
    _set(run, state="ready", error=None, filename=plugin.filename(data),
         media_type=cls.media_type, size=path.stat().st_size, files=dict(written.files),
         notes=list(written.notes))
    db.session.commit()
    if old and old != run.artifact:
        (artifacts_dir() / old).unlink(missing_ok=True)


@jobs.on_interrupted(KIND)
def interrupted(job: Job) -> None:
    """Fail the output of a job whose worker died."""
    run = db.session.get(Run, int(job.subject_id)) if job.subject_id else None
    if run is not None and pending(run) and run.output.get("job_id") == job.id:
        _set(run, state="failed", error=INTERRUPTED)


def _lost(run: Run) -> tuple[bool, Job | None]:
    """Tell whether a pending output's job ended without writing it or its worker died."""
    if not pending(run) or not run.output.get("job_id"):
        return False, None
    job = db.session.get(Job, run.output["job_id"])
    return job is None or JobStatus(job.status).terminal or jobs.is_stale(job), job


def _failure(job: Job | None) -> str:
    if job is not None and job.error and JobStatus(job.status).terminal:
        return job.error
    return INTERRUPTED


def refresh(run: Run) -> None:
    """Show a lost output as failed on this request's run, writing nothing (a poll's view)."""
    lost, job = _lost(run)
    if lost:
        set_committed_value(run, "output", {**(run.output or {}), "state": "failed",
                                            "error": _failure(job)})


def settle(run: Run) -> None:
    """Fail a lost output for good: the sweep's verdict, or its own, written now."""
    lost, job = _lost(run)
    if not lost:
        return
    if job is not None and not JobStatus(job.status).terminal:
        jobs.mark_interrupted(job)  # calls interrupted() above
    else:
        _set(run, state="failed", error=_failure(job))
    db.session.commit()
