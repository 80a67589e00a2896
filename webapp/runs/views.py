"""Reading runs back: the activity list, a flow's history, each collection's progress, the
data browser and the output file a run wrote.

Only reads: a poll that shows a run never writes (a lost run is shown failed by
services.refresh and failed for good by services.settle).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select

from webapp import tenancy
from webapp.extensions import db
from webapp.models import Flow, Job, Run, RunRecord, RunStatus
from webapp.plugin_api import ENTITY_LABELS
from webapp.runs import columns, output
from webapp.runs.artifacts import artifacts_dir

PAGE_SIZE = 50
ARTIFACT_WAIT_S = 15.0  # a download asked for while the bundle is written waits this long

ACTIVITY_FILTERS = {
    "all": (),
    "open": (RunStatus.QUEUED, RunStatus.RUNNING),
    "completed": (RunStatus.COMPLETED,),
    "warnings": (RunStatus.COMPLETED_WITH_WARNINGS,),
    "failed": (RunStatus.FAILED,),
    "cancelled": (RunStatus.CANCELLED,),
}
ACTIVITY_LABELS = {"all": "All", "open": "Queued or running", "completed": "Completed",
                   "warnings": "Completed with warnings", "failed": "Failed",
                   "cancelled": "Cancelled"}


def activity(status: str = "all", page: int = 1, per_page: int = PAGE_SIZE
             ) -> tuple[list[Run], int]:
    """Return a page of every run of the active organization, newest first, and the pages."""
    wanted = ACTIVITY_FILTERS.get(status, ())
    query = tenancy.scoped(Run)
    if wanted:
        query = query.where(Run.status.in_(wanted))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = db.session.scalars(query.order_by(Run.id.desc())
                              .offset((page - 1) * per_page).limit(per_page))
    return list(rows), pages


def history(flow: Flow, limit: int = 20) -> list[Run]:
    """Return the latest runs of a flow of the active organization, newest first."""
    return list(db.session.scalars(tenancy.scoped(Run).where(Run.flow_id == flow.id)
                                   .order_by(Run.id.desc()).limit(limit)))


def artifact_path(run: Run) -> Path | None:
    """Return the file of a run's output, when it is written and still there."""
    if not run.artifact or (run.output or {}).get("state") != "ready":
        return None
    path = artifacts_dir() / run.artifact
    return path if path.is_file() else None


def wait_for_artifact(run: Run, timeout_s: float = ARTIFACT_WAIT_S) -> Path | None:
    """Return a run's artifact, waiting a little while its output is still being written."""
    deadline = time.monotonic() + timeout_s
    while output.pending(run) and time.monotonic() < deadline:
        time.sleep(0.2)
        db.session.expire(run)
        output.refresh(run)
    return artifact_path(run)


@dataclass(frozen=True)
class CollectionView:
    """One row of the run's progress table."""

    key: str
    source: str
    entity: str
    label: str
    state: str
    fetched: int
    total: int | None
    pages: int
    retries: int
    rate: float | None
    waiting_s: float
    error: dict[str, Any] | None
    requests: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return self.state in ("completed", "done")

    @property
    def failed(self) -> bool:
        return self.state in ("failed", "cancelled")

    @property
    def max(self) -> int | None:
        if self.total:
            return max(self.total, self.fetched)
        return self.fetched if self.done and self.fetched else None

    @property
    def status_text(self) -> str:
        if self.waiting_s > 0:
            return f"Rate limited, retrying in {math.ceil(self.waiting_s)} s"
        if self.done and self.error:  # an optional collection the source does not grant
            return self.error.get("title") or "Not read"
        if self.done and self.warnings:
            return "Completed with warnings"
        return {"pending": "Waiting", "running": "Reading", "done": "Completed"}.get(
            self.state, self.state.capitalize())


def collection_views(run: Run) -> list[CollectionView]:
    """Return every collection's progress: live while the run goes, stored once it ended."""
    live: dict[str, Any] = {}
    if not RunStatus(run.status).terminal and run.job_id:
        job = db.session.get(Job, run.job_id)
        live = ((job.progress or {}).get("collections") or {}) if job else {}
    labels = {s["node"]: s["label"] for s in run.sources}
    views = []
    for c in run.collections:
        now = live.get(c.key)
        state = str(c.state)
        if now and state in ("pending", "running"):
            views.append(CollectionView(
                c.key, labels.get(c.source_node, c.source_node), c.entity,
                ENTITY_LABELS.get(c.entity, c.entity), now.get("state", "running"),
                now.get("fetched", 0), now.get("total"), now.get("pages", 0),
                now.get("retries", 0), now.get("rate"), now.get("waiting_s") or 0.0,
                now.get("error"), now.get("requests", 0)))
        else:
            views.append(CollectionView(
                c.key, labels.get(c.source_node, c.source_node), c.entity,
                ENTITY_LABELS.get(c.entity, c.entity), state, c.records, c.total, c.pages,
                c.retries, round(c.rate, 1) if c.rate else None, 0.0, c.error, c.requests,
                tuple(c.warnings or ())))
    return views


def stage(run: Run) -> str | None:
    """Return what a running run is doing now (reading, checking, ...)."""
    if RunStatus(run.status).terminal or not run.job_id:
        return None
    job = db.session.get(Job, run.job_id)
    return (job.progress or {}).get("stage") if job else None


@dataclass(frozen=True)
class BrowseRow:
    sourced_id: str
    status: str
    source: str
    cells: tuple[str, ...]
    json: str


@dataclass(frozen=True)
class BrowsePage:
    """One page of a run's records of one collection, optionally filtered by a search."""

    entity: str
    q: str
    page: int
    pages: int
    total: int
    headers: tuple[str, ...]
    rows: tuple[BrowseRow, ...]


def browse(run: Run, entity: str, q: str = "", page: int = 1,
           per_page: int = PAGE_SIZE) -> BrowsePage:
    """Return a page of a run's winning records: by sourcedId, or any text in the JSON."""
    q = q.strip()
    where = [RunRecord.run_id == run.id, RunRecord.entity == entity,
             RunRecord.superseded.is_(False)]
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(or_(RunRecord.sourced_id == q,
                         RunRecord.data.ilike(f"%{escaped}%", escape="\\")))
    query = (select(RunRecord.sourced_id, RunRecord.status, RunRecord.source_rank,
                    RunRecord.data).where(*where).order_by(RunRecord.sourced_id))
    page = max(1, page)
    rows = db.session.execute(query.offset((page - 1) * per_page).limit(per_page)).all()
    if page == 1 and len(rows) < per_page:
        total = len(rows)  # all there is: a search that finds little needs no second scan
    else:
        total = db.session.scalar(
            select(func.count()).select_from(RunRecord).where(*where)) or 0
    pages = max(1, math.ceil(total / per_page))
    if page > pages:  # past the end (an old link, a shorter result): show the last page
        page = pages
        rows = db.session.execute(query.offset((page - 1) * per_page).limit(per_page)).all()
    labels = {s["rank"]: s["label"] for s in run.sources}
    shown = []
    for sourced_id, status, rank, raw in rows:
        data = json.loads(raw)
        shown.append(BrowseRow(sourced_id, status, labels.get(rank, ""),
                               columns.cells(entity, data),
                               json.dumps(data, indent=2, ensure_ascii=False)))
    return BrowsePage(entity, q, page, pages, total, columns.headers(entity), tuple(shown))
