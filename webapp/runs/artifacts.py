"""Where run artifacts (such as CSV bundles) live, and their removal with their run or flow."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from webapp.models import Flow, Run

PENDING = "sdm.runs.artifacts_to_remove"


def artifacts_dir(app: Flask | None = None) -> Path:
    """Return the directory run artifacts are written to."""
    app = app or current_app
    return Path(app.config.get("ARTIFACTS_DIR") or Path(app.instance_path) / "artifacts")


@event.listens_for(Flow, "before_delete")
def _remember_artifacts(_mapper, connection, flow: Flow) -> None:
    """Note the files of a deleted flow's runs; they go once the deletion is committed."""
    if not has_app_context():
        return
    names = connection.execute(select(Run.artifact).where(
        Run.flow_id == flow.id, Run.artifact.is_not(None))).scalars().all()
    session = Session.object_session(flow)
    if names and session is not None:
        folder = artifacts_dir()
        session.info.setdefault(PENDING, []).extend(folder / name for name in names)


@event.listens_for(Run, "before_delete")
def _remember_artifact(_mapper, _connection, run: Run) -> None:
    """Note the file of a deleted run; it goes once the deletion is committed."""
    session = Session.object_session(run)
    if run.artifact and session is not None and has_app_context():
        session.info.setdefault(PENDING, []).append(artifacts_dir() / run.artifact)


@event.listens_for(Session, "after_commit")
def _remove_artifacts(session: Session) -> None:
    for path in session.info.pop(PENDING, []):
        path.unlink(missing_ok=True)


@event.listens_for(Session, "after_rollback")
def _keep_artifacts(session: Session) -> None:
    session.info.pop(PENDING, None)
