"""Run retention: after a successful run, a flow keeps its newest SDM_RUN_RETENTION runs.

Older runs that have ended are deleted with their records and output files (runs still going,
or still writing their output, are left for the next time). 0, the default, keeps every run.
The run just completed is the newest, so the base of the next delta run always stays.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from webapp import audit
from webapp.extensions import db
from webapp.models import Run, RunStatus
from webapp.runs import output


def prune(run: Run) -> int:
    """Delete the runs of `run`'s flow beyond the newest RUN_RETENTION; return how many."""
    keep = int(current_app.config.get("RUN_RETENTION") or 0)
    if keep <= 0:
        return 0
    older = db.session.scalars(
        select(Run).where(Run.flow_id == run.flow_id)
        .order_by(Run.created_at.desc(), Run.id.desc()).offset(keep)).all()
    gone = [r for r in older
            if RunStatus(r.status).terminal and not output.pending(r)]
    if not gone:
        return 0
    records = sum(r.total for r in gone)
    audit.record("run.pruned", f"Removed {len(gone)} earlier run{'s' if len(gone) > 1 else ''} "
                 f"of flow {run.flow_name} ({records:,} records): the flow keeps its last "
                 f"{keep} run{'s' if keep > 1 else ''}", organization_id=run.organization_id,
                 target=run.flow, runs=[r.id for r in gone], keep=keep)
    for old in gone:
        db.session.delete(old)  # records and collections go with it; its file after commit
    db.session.commit()
    return len(gone)
