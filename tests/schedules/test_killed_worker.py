"""A worker killed mid-run: the scheduler marks the run interrupted with nobody polling, then
retries it once; a new worker finishes it. Real processes, a Redis of the test's own."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import TEST_KEY
from tests.fixtures.redis_server import redis_server
from tests.runs.conftest import graph, source
from webapp import crypto, jobs
from webapp.extensions import db
from webapp.models import Cadence, Connection, Job, Run, RunStatus, Schedule, User
from webapp.models.common import utcnow
from webapp.schedules import scheduler

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.redis,
              pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="redis-server is not installed")]


@pytest.fixture
def redis(tmp_path):
    with redis_server(tmp_path) as server:
        yield server


@pytest.fixture
def app_config(app_config, redis, tmp_path):
    return {**app_config, "JOBS": "rq", "REDIS_URL": redis.url,
            "ARTIFACTS_DIR": str(tmp_path / "artifacts")}


def worker(app, redis, tmp_path, *, burst: bool) -> subprocess.Popen:
    env = {**os.environ, "FLASK_APP": "wsgi",
           "SDM_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "SDM_SECRET_KEY": "x" * 40, "SDM_ENCRYPTION_KEYS": TEST_KEY, "SDM_JOBS": "rq",
           "SDM_REDIS_URL": redis.url, "SDM_SCHEDULER": "off", "SDM_ALLOW_HTTP": "1",
           "SDM_ALLOW_LOOPBACK": "1",
           "SDM_ARTIFACTS_DIR": str(tmp_path / "artifacts"), "SDM_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "flask", "sdm", "worker"] + (["--burst"] if burst else [])
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def test_a_killed_workers_scheduled_run_is_interrupted_then_retried(app, ada, people, flows,
                                                                   make_sandbox, redis,
                                                                   tmp_path):
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

    running = worker(app, redis, tmp_path, burst=False)
    try:
        with app.app_context():
            deadline = time.monotonic() + 60
            while True:
                db.session.expire_all()
                run = db.session.get(Run, run_id)
                job = db.session.get(Job, run.job_id)
                if job.status == "running" and job.progress:
                    break
                assert time.monotonic() < deadline, "the worker never started the run"
                time.sleep(0.2)
    finally:
        running.send_signal(signal.SIGKILL)  # no goodbye: its heartbeat just stops
        running.wait(timeout=10)

    with app.app_context():
        # Nobody opens the run's page; the scheduler's next passes find it abandoned.
        later = utcnow() + jobs.STALE_AFTER + timedelta(seconds=5)
        done = scheduler.tick(later)
        assert done.swept >= 1 and done.retried == [run_id]
        run = db.session.get(Run, run_id)
        assert run.attempts == 2 and run.status == RunStatus.QUEUED

    finisher = worker(app, redis, tmp_path, burst=True)
    assert finisher.wait(timeout=300) == 0
    with app.app_context():
        db.session.expire_all()
        run = db.session.get(Run, run_id)
        assert RunStatus(run.status).succeeded, run.error
        assert run.attempts == 2 and sum(run.counts.values()) > 0
