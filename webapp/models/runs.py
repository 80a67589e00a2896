"""Runs of a flow: the run, how each collection went, and the records it stored."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.accounts import User
from webapp.models.common import utcnow
from webapp.models.flows import Flow


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_WARNINGS = "completed_with_warnings"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def terminal(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)

    @property
    def succeeded(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.COMPLETED_WITH_WARNINGS)


class RunTrigger(enum.StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class CollectionState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Run(db.Model):
    """One execution of a flow, kept with its records for browsing and download."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), index=True)
    flow_name: Mapped[str] = mapped_column(String(100))
    # The flow's graph when the run started, so editing the flow does not change the run.
    graph: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # One entry per source node, by precedence: node, label, plugin, since (delta) or None.
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[RunStatus] = mapped_column(String(32), default=RunStatus.QUEUED, index=True)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # records per collection
    integrity: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    artifact: Mapped[str | None] = mapped_column(String(300))  # file name in ARTIFACTS_DIR
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(String(36))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    trigger: Mapped[RunTrigger] = mapped_column(String(16), default=RunTrigger.MANUAL,
                                                server_default=RunTrigger.MANUAL)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    flow: Mapped[Flow] = relationship()
    started_by: Mapped[User | None] = relationship()
    collections: Mapped[list[RunCollection]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="RunCollection.id",
    )

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.finished_at or utcnow()) - self.started_at).total_seconds()

    @property
    def total(self) -> int:
        return sum((self.counts or {}).values())

    def __repr__(self) -> str:
        return f"<Run {self.id} flow={self.flow_id} {self.status}>"


class RunCollection(db.Model):
    """How the read of one collection from one source went."""

    __tablename__ = "run_collections"
    __table_args__ = (UniqueConstraint("run_id", "source_node", "entity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    source_node: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    state: Mapped[CollectionState] = mapped_column(String(16), default=CollectionState.PENDING)
    records: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Where the server's total and its records disagree: sentences, never a secret.
    warnings: Mapped[list[str] | None] = mapped_column(JSON)
    elapsed_s: Mapped[float | None]
    # {"category", "title", "message", "advice": [...], ...}: never a secret.
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    run: Mapped[Run] = relationship(back_populates="collections")

    @property
    def key(self) -> str:
        return f"{self.source_node}:{self.entity}"

    @property
    def rate(self) -> float | None:
        if not self.elapsed_s:
            return None
        return self.records / self.elapsed_s


class RunRecord(db.Model):
    """One record a run stored. ``data`` is the record's JSON, serialised once on arrival.

    Records of every source are kept; when two carry the same entity and sourcedId, all but
    the winner (the source first in the merge precedence, ``source_rank`` 0 first) are
    marked ``superseded`` at the end of the run.
    """

    __tablename__ = "run_records"
    __table_args__ = (
        Index("ix_run_records_lookup", "run_id", "entity", "sourced_id", "source_rank"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # No foreign key: its check, one per row, was a quarter of what PostgreSQL spent storing a
    # run's records. The rows still go with their run: see RUN_ROWS_GO_WITH_THE_RUN.
    run_id: Mapped[int] = mapped_column(Integer)
    entity: Mapped[str] = mapped_column(String(32))
    sourced_id: Mapped[str] = mapped_column(String(255))
    source_rank: Mapped[int] = mapped_column(SmallInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    date_last_modified: Mapped[str | None] = mapped_column(String(40))
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    # The sourcedIds the integrity report follows, copied out of the JSON on arrival so the
    # report is index lookups: enrollments' user and class, classes' course and school.
    ref_a: Mapped[str | None] = mapped_column(String(255))
    ref_b: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[str] = mapped_column(Text)


class RunReference(db.Model):
    """A sourcedId some record of a run points to: one row per collection, reference and target.

    The writer stores a page's targets with the page, so the end of a run finds references to
    records it does not hold with one query over these, whatever the district's size.
    """

    __tablename__ = "run_references"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # as RunRecord's
    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    field: Mapped[str] = mapped_column(String(32), primary_key=True)  # as tally.FOLLOWED names it
    target: Mapped[str] = mapped_column(String(255), primary_key=True)


# A run's records and references are deleted with the run by the database, as a foreign key's
# ON DELETE CASCADE would, whether the run is deleted itself or with its flow or organization:
# once per statement on PostgreSQL, over every run the statement deleted.
RUN_ROWS_GO_WITH_THE_RUN = {
    "postgresql": (
        "CREATE OR REPLACE FUNCTION sdm_runs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "DELETE FROM run_records WHERE run_id IN (SELECT id FROM gone); "
        "DELETE FROM run_references WHERE run_id IN (SELECT id FROM gone); "
        "RETURN NULL; "
        "END $$",
        "DROP TRIGGER IF EXISTS runs_deleted ON runs",
        "CREATE TRIGGER runs_deleted AFTER DELETE ON runs REFERENCING OLD TABLE AS gone "
        "FOR EACH STATEMENT EXECUTE FUNCTION sdm_runs_deleted()",
    ),
    "sqlite": (
        "CREATE TRIGGER IF NOT EXISTS runs_deleted AFTER DELETE ON runs BEGIN "
        "DELETE FROM run_records WHERE run_id = OLD.id; "
        "DELETE FROM run_references WHERE run_id = OLD.id; "
        "END",
    ),
}
for _table in (RunRecord.__table__, RunReference.__table__):
    _table.add_is_dependent_on(Run.__table__)  # created after runs, dropped before, as before
for _dialect, _statements in RUN_ROWS_GO_WITH_THE_RUN.items():
    for _statement in _statements:
        event.listen(db.metadata, "after_create", DDL(_statement).execute_if(dialect=_dialect))
