"""The scheduler: due runs start once, missed runs run once, busy flows skip, retries."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from tests.conftest import TEST_KEY
from webapp import jobs
from webapp.extensions import db
from webapp.models import (
    Cadence,
    DueRun,
    DueRunOutcome,
    Flow,
    Job,
    JobStatus,
    Run,
    RunStatus,
    RunTrigger,
    Schedule,
)
from webapp.models.common import utcnow
from webapp.schedules import scheduler
from webapp.schedules.services import reschedule

ROOT = Path(__file__).resolve().parents[2]


def schedule(flow_id: int, *, next_run_at: datetime, at: str = "02:00",
             zone: str = "Europe/Warsaw") -> None:
    flow = db.session.get(Flow, flow_id)
    db.session.add(Schedule(organization_id=flow.organization_id, flow_id=flow_id,
                            cadence=Cadence.DAILY, every_days=1, at=at, timezone=zone,
                            starts_on=date(2026, 1, 1), next_run_at=next_run_at))
    db.session.commit()


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_due_schedule_starts_one_scheduled_run_and_moves_on(app, ada, flows):
    flow_id = flows.create()
    now = datetime(2026, 6, 10, 0, 0, 30)  # 02:00:30 in Warsaw
    with app.app_context():
        schedule(flow_id, next_run_at=datetime(2026, 6, 10, 0, 0))
        done = scheduler.tick(now)
        assert len(done.started) == 1
        run = db.session.get(Run, done.started[0])
        assert run.trigger == RunTrigger.SCHEDULED and run.started_by_id is None
        assert RunStatus(run.status).succeeded
        claim = db.session.scalar(select(DueRun))
        assert (claim.due_at, claim.outcome, claim.run_id) == (
            datetime(2026, 6, 10, 0, 0), DueRunOutcome.STARTED, run.id)
        assert db.session.scalar(select(Schedule)).next_run_at == datetime(2026, 6, 11, 0, 0)
        assert scheduler.tick(now).started == []  # nothing is due twice


def test_runs_missed_while_down_run_once_on_start_up(app, ada, flows):
    flow_id = flows.create()
    with app.app_context():
        schedule(flow_id, next_run_at=datetime(2026, 6, 7, 0, 0))  # three nights ago
        now = datetime(2026, 6, 10, 9, 0)
        assert len(scheduler.tick(now).started) == 1
        assert len(scheduler.tick(now + timedelta(minutes=1)).started) == 0
        assert count(Run) == 1
        assert db.session.scalar(select(DueRun.due_at)) == datetime(2026, 6, 10, 0, 0)
        assert db.session.scalar(select(Schedule)).next_run_at == datetime(2026, 6, 11, 0, 0)


def test_a_run_still_going_when_the_next_is_due_is_skipped_with_a_note(app, ada, flows):
    flow_id = flows.create()
    with app.app_context():
        flow = db.session.get(Flow, flow_id)
        job = Job(kind="flow.run", status=JobStatus.RUNNING, heartbeat_at=utcnow())
        db.session.add(job)
        db.session.flush()
        db.session.add(Run(organization_id=flow.organization_id, flow_id=flow_id,
                           flow_name=flow.name, status=RunStatus.RUNNING, job_id=job.id,
                           started_at=utcnow()))
        schedule(flow_id, next_run_at=utcnow() - timedelta(minutes=1))
        done = scheduler.tick()
        assert done.started == [] and done.skipped == [flow_id]
        claim = db.session.scalar(select(DueRun))
        assert claim.outcome == DueRunOutcome.SKIPPED
        assert "was still going" in claim.note
        assert count(Run) == 1
    page = ada.get(f"/flows/{flow_id}").get_data(as_text=True)
    assert "was skipped: run #" in page


def test_a_due_time_is_claimed_by_one_scheduler_only(app, ada, flows):
    flow_id = flows.create()
    with app.app_context():
        org = db.session.get(Flow, flow_id).organization_id
        due = datetime(2026, 6, 10, 0, 0)
        assert scheduler.claim_due(flow_id, org, due) is not None
        assert scheduler.claim_due(flow_id, org, due) is None
        assert scheduler.claim_due(flow_id, org, due + timedelta(days=1)) is not None


def test_two_scheduler_processes_start_one_run(app, ada, flows, tmp_path):
    flow_id = flows.create()
    with app.app_context():
        schedule(flow_id, next_run_at=utcnow() - timedelta(minutes=5))
        url = app.config["SQLALCHEMY_DATABASE_URI"]
    env = {**os.environ, "SDM_DATABASE_URL": url, "SDM_SECRET_KEY": "x" * 40,
           "SDM_ENCRYPTION_KEYS": TEST_KEY, "SDM_JOBS": "sync", "SDM_SCHEDULER": "off",
           "SDM_ARTIFACTS_DIR": str(tmp_path / "artifacts"), "FLASK_APP": "wsgi",
           "SDM_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "flask", "sdm", "scheduler", "--once"]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    with app.app_context():
        assert count(Run) == 1, outputs
        assert count(DueRun) == 1
        assert RunStatus(db.session.scalar(select(Run.status))).succeeded


def test_an_interrupted_scheduled_run_is_retried_once_without_anyone_polling(app, ada, flows):
    flow_id = flows.create()
    with app.app_context():
        schedule(flow_id, next_run_at=utcnow() - timedelta(seconds=1))
        run_id = scheduler.tick().started[0]
        abandon(run_id)  # its worker died mid-run

        later = utcnow() + jobs.STALE_AFTER + timedelta(seconds=1)
        done = scheduler.tick(later)
        assert done.swept == 1 and done.retried == [run_id]
        run = db.session.get(Run, run_id)
        assert run.attempts == 2 and RunStatus(run.status).succeeded

        abandon(run_id)  # the retry is interrupted too: no third attempt
        done = scheduler.tick(later + jobs.STALE_AFTER * 2)
        assert done.swept == 1 and done.retried == []
        run = db.session.get(Run, run_id)
        assert run.status == RunStatus.FAILED and run.error.startswith("Interrupted")


def test_a_manual_run_that_was_interrupted_is_not_retried(app, ada, flows):
    flow_id = flows.create()
    ada.post(f"/runs/flows/{flow_id}/start")
    with app.app_context():
        run_id = db.session.scalar(select(Run.id))
        abandon(run_id)
        done = scheduler.tick(utcnow() + jobs.STALE_AFTER * 2)
        assert done.swept == 1 and done.retried == []


def abandon(run_id: int) -> None:
    """Put a run back to Running, as if the worker running it had just died."""
    run = db.session.get(Run, run_id)
    job = db.session.get(Job, run.job_id)
    job.status, job.heartbeat_at, job.finished_at = JobStatus.RUNNING, utcnow(), None
    run.status, run.finished_at = RunStatus.RUNNING, None
    for collection in run.collections:
        collection.state = "running"
    db.session.commit()


def test_paused_and_off_schedules_have_no_next_run(app, ada, flows):
    flow_id = flows.create()
    with app.app_context():
        schedule(flow_id, next_run_at=utcnow() - timedelta(minutes=1))
        row = db.session.scalar(select(Schedule))
        row.paused = True
        reschedule(row)
        db.session.commit()
        assert row.next_run_at is None and scheduler.tick().started == []
        row.paused, row.cadence = False, Cadence.OFF
        reschedule(row)
        assert row.next_run_at is None


def test_the_scheduler_setting(tmp_path):
    import pytest

    from webapp.config import ConfigError, finalize, load

    def settings(**env):
        config = load(environ={"SDM_DEBUG": "1", **env}, dotenv_path=None)
        finalize(config, str(tmp_path))
        return config["SCHEDULER"]

    assert settings() == "embedded"  # in-process jobs: every app process schedules
    assert settings(SDM_JOBS="rq") == "off"  # workers: run `flask sdm scheduler`
    assert settings(SDM_JOBS="rq", SDM_SCHEDULER="embedded") == "embedded"
    with pytest.raises(ConfigError, match="SDM_SCHEDULER"):
        settings(SDM_SCHEDULER="sometimes")
    with pytest.raises(ConfigError, match="SDM_SMTP_SECURITY"):
        settings(SDM_SMTP_SECURITY="tls1")
