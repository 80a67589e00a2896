"""The Redis/RQ job backend, against the real Redis (CI runs one on 127.0.0.1:6379)."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest

from webapp import jobs
from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.models.common import utcnow

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def _redis_answers() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not _redis_answers(),
                       reason=f"no Redis answers on {REDIS_HOST}:{REDIS_PORT}"),
]


@pytest.fixture
def app_config(app_config):
    # A database number of the suite's own, emptied before and after (SDM_TEST_REDIS_DB lets
    # suites of several checkouts share one Redis).
    db = os.environ.get("SDM_TEST_REDIS_DB", "13")
    return {**app_config, "JOBS": "rq", "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"}


@pytest.fixture
def queue(app):
    runner = app.extensions["sdm.jobs"]
    runner.connection.flushdb()
    yield runner
    runner.connection.flushdb()


@pytest.fixture
def echo(app):
    kind = "t.rq.echo"

    def run(ctx):
        ctx.report({"step": "halfway"})
        return {"echo": ctx.params["value"]}

    app.extensions["sdm.jobs"].kinds.add(kind, run)
    return kind


def test_a_job_waits_in_redis_until_a_worker_runs_it(app, queue, echo):
    with app.app_context():
        job_id = jobs.runner().submit(echo, value=42).id
        assert db.session.get(Job, job_id).status == JobStatus.QUEUED
        assert queue.queue.count == 1

        queue.work(app, burst=True)

        db.session.expire_all()
        job = db.session.get(Job, job_id)
        assert job.status == JobStatus.SUCCEEDED
        assert job.result == {"echo": 42}
        assert job.progress == {"step": "halfway"}
        assert queue.queue.count == 0


def test_a_job_still_queued_is_not_swept_as_abandoned(app, queue, echo):
    with app.app_context():
        job_id = jobs.runner().submit(echo, value=1).id
        later = utcnow() + jobs.STALE_AFTER + timedelta(minutes=5)

        assert jobs.sweep(now=later) == []
        assert not jobs.is_stale(db.session.get(Job, job_id), now=later)

        queue.queue.empty()  # the queue lost it: now nobody will run it
        assert [j.id for j in jobs.sweep(now=later)] == [job_id]
        assert db.session.get(Job, job_id).error == jobs.INTERRUPTED


def test_the_worker_command_refuses_without_the_rq_backend(runner, app, queue):
    app.extensions["sdm.jobs"] = jobs.SyncRunner(app.extensions["sdm.jobs"].kinds)
    result = runner.invoke(args=["sdm", "worker", "--burst"])
    assert result.exit_code != 0
    assert "SDM_JOBS=rq" in result.output


def test_the_worker_command_runs_queued_jobs(runner, app, queue, echo):
    with app.app_context():
        job_id = jobs.runner().submit(echo, value="cli").id
    result = runner.invoke(args=["sdm", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(Job, job_id).result == {"echo": "cli"}
