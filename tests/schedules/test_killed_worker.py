"""A worker killed mid-run: the scheduler marks the run interrupted with nobody polling, then
retries it once; a new worker finishes it. Real processes, a Redis of the test's own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import TEST_KEY
from tests.fixtures import redis_server
from tests.runs.conftest import graph, source
from webapp import crypto, jobs
from webapp.extensions import db
from webapp.models import Cadence, Connection, Job, JobStatus, Run, RunStatus, Schedule, User
from webapp.models.common import utcnow
from webapp.schedules import scheduler

ROOT = Path(__file__).resolve().parents[2]

pytestmark = redis_server.NEEDS_REDIS
redis, app_config = redis_server.redis, redis_server.app_config  # this module's jobs run on RQ


def flask_process(app, redis, tmp_path, *args: str) -> subprocess.Popen:
    """Start `flask sdm <args>` on the test's database and Redis."""
    env = {**os.environ, "FLASK_APP": "wsgi",
           "SDM_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "SDM_SECRET_KEY": "x" * 40, "SDM_ENCRYPTION_KEYS": TEST_KEY, "SDM_JOBS": "rq",
           "SDM_REDIS_URL": redis.url, "SDM_SCHEDULER": "off", "SDM_ALLOW_HTTP": "1",
           "SDM_ALLOW_LOOPBACK": "1",
           "SDM_ARTIFACTS_DIR": str(tmp_path / "artifacts"), "SDM_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "flask", "sdm", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def worker(app, redis, tmp_path, *, burst: bool) -> subprocess.Popen:
    return flask_process(app, redis, tmp_path, "worker", *(["--burst"] if burst else []))


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until(app, what, check, timeout: float):
    """Read the database until check() answers something true; nothing here sweeps or polls."""
    deadline = time.monotonic() + timeout
    with app.app_context():
        while True:
            db.session.expire_all()
            found = check()
            if found:
                return found
            assert time.monotonic() < deadline, what
            time.sleep(0.2)


@pytest.fixture
def scheduled_run(app, ada, people, flows, make_sandbox):
    """A scheduled run of a slow flow, started by a scheduler pass and queued in Redis."""
    slow = make_sandbox(users=300, latency_ms=400)
    with app.app_context():
        org = people.org_id("Springfield District")
        connection = Connection(organization_id=org, name="Slow SIS", provider="custom",
                                base_url=slow.base_url, auth_url=slow.token_url,
                                client_id="demo",
                                client_secret_encrypted=crypto.encrypt(slow.secret),
                                secret_set_at=utcnow(),
                                created_by_id=db.session.scalar(select(User.id)))
        db.session.add(connection)
        db.session.commit()
        connection_id = connection.id
    flow_id = flows.create(graph(source(plugin="source-oneroster",
                                        connection_id=connection_id)))
    with app.app_context():
        db.session.add(Schedule(organization_id=org, flow_id=flow_id, cadence=Cadence.DAILY,
                                at="02:00", timezone="UTC", starts_on=date(2026, 1, 1),
                                next_run_at=utcnow() - timedelta(seconds=1),
                                health_checked_for=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        [run_id] = scheduler.tick().started
    return run_id


def kill_worker_mid_run(app, redis, tmp_path, run_id, before_kill=lambda: None):
    """Let a worker start the run, kill it without a goodbye; return the job id and kill time."""
    running = worker(app, redis, tmp_path, burst=False)
    try:
        job_id = wait_until(app, "the worker never started the run", lambda: (
            (job := db.session.get(Job, db.session.get(Run, run_id).job_id)).status == "running"
            and job.progress and job.id), timeout=60)
        before_kill()
    finally:
        running.send_signal(signal.SIGKILL)  # its heartbeat just stops
        running.wait(timeout=10)
    return job_id, utcnow()


def assert_swept_in_time(app, job_id, killed_at):
    """Wait for the sweep; check its timing from the job's own timestamps."""
    job = wait_until(app, "nobody marked the abandoned job interrupted", lambda: (
        (job := db.session.get(Job, job_id)).status == JobStatus.FAILED and job), timeout=60)
    assert job.error == jobs.INTERRUPTED
    silent_for = job.finished_at - job.heartbeat_at  # last sign of life to the verdict
    # Never before the heartbeat is stale, always by the sweep after that (with 3 s for the
    # sweep's own query and a machine busy with other work) ...
    assert jobs.STALE_AFTER <= silent_for <= jobs.STALE_AFTER + timedelta(seconds=jobs.SWEEP_S + 3)
    # ... which keeps the promise: interrupted within 30 s of the worker's death.
    assert jobs.WORST_CASE < timedelta(seconds=30)
    assert job.finished_at - killed_at < timedelta(seconds=30)


def test_a_killed_workers_scheduled_run_is_interrupted_then_retried(app, scheduled_run, redis,
                                                                   tmp_path):
    run_id = scheduled_run
    # Nobody opens the run's page: a scheduler process running all along sweeps and retries.
    scheduling = flask_process(app, redis, tmp_path, "scheduler")
    try:
        job_id, killed_at = kill_worker_mid_run(app, redis, tmp_path, run_id)
        assert_swept_in_time(app, job_id, killed_at)
        run = wait_until(app, "the scheduler never retried the run", lambda: (
            (run := db.session.get(Run, run_id)).attempts == 2 and run.job_id != job_id
            and run), timeout=30)
        assert run.status == RunStatus.QUEUED
    finally:
        stop(scheduling)

    finisher = worker(app, redis, tmp_path, burst=True)
    assert finisher.wait(timeout=300) == 0
    with app.app_context():
        db.session.expire_all()
        run = db.session.get(Run, run_id)
        assert RunStatus(run.status).succeeded, run.error
        assert run.attempts == 2 and sum(run.counts.values()) > 0


def test_an_idle_worker_sweeps_a_killed_workers_run(app, scheduled_run, redis, tmp_path):
    # No scheduler at all: another worker, waiting for work, marks the run interrupted.
    idle = []
    try:
        job_id, killed_at = kill_worker_mid_run(  # the queue is empty once the run started
            app, redis, tmp_path, scheduled_run,
            before_kill=lambda: idle.append(worker(app, redis, tmp_path, burst=False)))
        assert_swept_in_time(app, job_id, killed_at)
        with app.app_context():
            run = db.session.get(Run, scheduled_run)
            assert run.status == RunStatus.FAILED and run.error.startswith("Interrupted")
    finally:
        for process in idle:
            stop(process)
