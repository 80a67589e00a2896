"""The job runner: rows with a status, handlers by kind, terminal states, abandoned jobs."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from webapp import jobs
from webapp.extensions import db
from webapp.jobs import abandoned
from webapp.models import Job, JobStatus
from webapp.models.common import utcnow


class Refused(Exception):
    public_message = "The server refused the request."


@pytest.fixture
def handlers(request):
    """Register throwaway job kinds with the test's app (whichever app fixture it uses)."""
    app = request.getfixturevalue("thread_app" if "thread_app" in request.fixturenames
                                  else "app")
    gate = threading.Event()
    tidied: list[str] = []

    def ok(ctx):
        ctx.report({"step": 1})
        return {"echo": ctx.params.get("value"), "subject": ctx.subject_id}

    def public(ctx):
        raise Refused("detail with a secret in it: s3cr3t")

    def crash(ctx):
        raise RuntimeError("internal detail: s3cr3t")

    def cancel(ctx):
        raise jobs.JobCancelled()

    def block(ctx):
        if not gate.wait(10):
            raise RuntimeError("the test never opened the gate")
        return {"done": True}

    kinds = app.extensions["sdm.jobs"].kinds
    for kind, fn in [("t.ok", ok), ("t.public", public), ("t.crash", crash),
                     ("t.cancel", cancel)]:
        kinds.add(kind, fn)
    kinds.add("t.block", block, interrupted=lambda job: tidied.append(job.id))
    yield gate, tidied
    gate.set()


def _wait_for(app, job_id, statuses, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            job = db.session.get(Job, job_id)
            if job.status in statuses:
                return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not reach {statuses}")


def test_sync_runner_runs_inline_and_stores_result(app, handlers):
    with app.app_context():
        job = jobs.runner().submit("t.ok", value=7)
        db.session.expire_all()
        job = db.session.get(Job, job.id)
        assert job.status == JobStatus.SUCCEEDED
        assert job.result == {"echo": 7, "subject": None}
        assert job.progress == {"step": 1}
        assert job.started_at and job.finished_at and job.heartbeat_at
        assert job.error is None


def test_create_does_not_start_until_dispatched(app, handlers):
    with app.app_context():
        job = jobs.runner().create("t.ok", value=1)
        assert db.session.get(Job, job.id).status == JobStatus.QUEUED
        jobs.runner().dispatch(job.id)
        db.session.expire_all()
        assert db.session.get(Job, job.id).status == JobStatus.SUCCEEDED


def test_public_message_becomes_the_error_and_internal_detail_does_not(app, handlers):
    with app.app_context():
        refused = jobs.runner().submit("t.public")
        crashed = jobs.runner().submit("t.crash")
        cancelled = jobs.runner().submit("t.cancel")
        db.session.expire_all()
        assert db.session.get(Job, refused.id).status == JobStatus.FAILED
        assert db.session.get(Job, refused.id).error == "The server refused the request."
        crashed = db.session.get(Job, crashed.id)
        assert crashed.status == JobStatus.FAILED
        assert "s3cr3t" not in crashed.error
        assert db.session.get(Job, cancelled.id).status == JobStatus.CANCELLED


def test_unknown_kind_is_refused(app):
    with app.app_context(), pytest.raises(KeyError):
        jobs.runner().submit("t.nobody-handles-this")


def test_the_sweep_fails_abandoned_jobs_and_tidies_up(app, handlers):
    _gate, tidied = handlers
    with app.app_context():
        old = utcnow() - timedelta(minutes=5)
        abandoned = Job(kind="t.block", status=JobStatus.RUNNING, params={},
                        created_at=old, started_at=old, heartbeat_at=old)
        never_started = Job(kind="t.block", status=JobStatus.QUEUED, params={}, created_at=old)
        alive = Job(kind="t.block", status=JobStatus.RUNNING, params={},
                    created_at=old, heartbeat_at=utcnow())
        finished = Job(kind="t.block", status=JobStatus.SUCCEEDED, params={}, created_at=old)
        db.session.add_all([abandoned, never_started, alive, finished])
        db.session.commit()

        assert jobs.is_stale(abandoned) and not jobs.is_stale(alive)
        recovered = jobs.sweep()

        assert {j.id for j in recovered} == {abandoned.id, never_started.id}
        assert sorted(tidied) == sorted([abandoned.id, never_started.id])
        db.session.expire_all()
        assert db.session.get(Job, abandoned.id).status == JobStatus.FAILED
        assert db.session.get(Job, abandoned.id).error == jobs.INTERRUPTED
        assert db.session.get(Job, alive.id).status == JobStatus.RUNNING
        assert db.session.get(Job, finished.id).status == JobStatus.SUCCEEDED


def test_execute_skips_a_job_already_finished(app, handlers):
    with app.app_context():
        job = Job(kind="t.ok", status=JobStatus.FAILED, params={}, error="earlier")
        db.session.add(job)
        db.session.commit()
        jobs.execute(job.id)
        db.session.expire_all()
        assert db.session.get(Job, job.id).error == "earlier"


def test_unknown_backend_is_refused(app_config):
    from webapp import create_app

    app_config["JOBS"] = "carrier-pigeon"
    with pytest.raises(ValueError, match="SDM_JOBS"):
        create_app(app_config)


@pytest.fixture
def thread_app(app_config, monkeypatch):
    """An app whose jobs run on a one-worker thread pool with a fast heartbeat and sweep."""
    monkeypatch.setattr(abandoned, "HEARTBEAT_S", 0.05)
    monkeypatch.setattr(abandoned, "SWEEP_S", 0.1)
    app_config.update(JOBS="thread", JOB_WORKERS=1)
    from webapp import create_app

    app = create_app(app_config)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        app.extensions["sdm.jobs"].shutdown()
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_thread_runner_runs_in_the_background(thread_app, handlers):
    gate, _ = handlers
    with thread_app.app_context():
        job = jobs.runner().submit("t.block")
        job_id = job.id
    _wait_for(thread_app, job_id, {JobStatus.RUNNING})
    gate.set()
    done = _wait_for(thread_app, job_id, {JobStatus.SUCCEEDED})
    assert done.result == {"done": True}


def test_thread_runner_keeps_queued_jobs_alive_and_sweeps_abandoned_ones(thread_app, handlers):
    gate, tidied = handlers
    old = utcnow() - timedelta(minutes=5)
    with thread_app.app_context():
        busy = jobs.runner().submit("t.block").id  # takes the only worker
        waiting = jobs.runner().submit("t.ok").id  # queued behind it
        orphan = Job(kind="t.block", status=JobStatus.RUNNING, params={},
                     created_at=old, heartbeat_at=old)  # from a worker that died
        db.session.add(orphan)
        db.session.commit()
        orphan_id = orphan.id
        # Pretend the queued job has been waiting a long time.
        db.session.execute(db.update(Job).where(Job.id == waiting).values(created_at=old))
        db.session.commit()

    _wait_for(thread_app, orphan_id, {JobStatus.FAILED})
    time.sleep(0.3)  # several beats and sweeps
    with thread_app.app_context():
        assert db.session.get(Job, waiting).status == JobStatus.QUEUED
        assert db.session.get(Job, busy).status == JobStatus.RUNNING
    assert tidied == [orphan_id]
    gate.set()
    _wait_for(thread_app, waiting, {JobStatus.SUCCEEDED})


def test_each_app_has_its_own_kinds_registered_by_its_areas(app_config):
    from webapp import create_app

    first, second = create_app(app_config), create_app(app_config)
    one, other = first.extensions["sdm.jobs"].kinds, second.extensions["sdm.jobs"].kinds
    assert one is not other
    for kind in ("connection.test", "flow.run", "run.output", "notify.deliver"):
        assert kind in one and kind in other
    one.add("t.only-here", lambda ctx: None)
    assert "t.only-here" not in other
    with pytest.raises(ValueError, match="registered twice"):
        one.add("flow.run", lambda ctx: None)


def test_marking_a_handler_registers_nothing_until_collected():
    import types

    module = types.ModuleType("area")

    @jobs.handler("t.marked")
    def run(ctx):
        return None

    @jobs.on_interrupted("t.marked")
    def tidy(job):
        return None

    module.run, module.tidy = run, tidy
    kinds = jobs.Kinds()
    assert "t.marked" not in kinds
    kinds.collect(module)
    assert kinds.run("t.marked") is run and kinds.interrupted("t.marked") is tidy


def test_the_sweep_ends_a_job_that_overran_its_budget_though_its_worker_beats(app, handlers):
    _gate, tidied = handlers
    with app.app_context():
        now = utcnow()
        long_ago = now - timedelta(seconds=31) - abandoned.OVERRUN_GRACE
        overran = Job(kind="t.block", status=JobStatus.RUNNING, params={"budget_s": 30},
                      created_at=long_ago, started_at=long_ago, heartbeat_at=now)
        within = Job(kind="t.block", status=JobStatus.RUNNING, params={"budget_s": 30},
                     created_at=now, started_at=now, heartbeat_at=now)
        unbudgeted = Job(kind="t.block", status=JobStatus.RUNNING, params={},
                         created_at=long_ago, started_at=long_ago, heartbeat_at=now)
        db.session.add_all([overran, within, unbudgeted])
        db.session.commit()
        assert jobs.overran(overran) and not jobs.overran(within)

        assert [job.id for job in jobs.sweep()] == [overran.id]

        db.session.expire_all()
        ended = db.session.get(Job, overran.id)
        assert ended.status == JobStatus.FAILED and ended.cancel_requested
        assert tidied == [overran.id]
        assert db.session.get(Job, within.id).status == JobStatus.RUNNING
        assert db.session.get(Job, unbudgeted.id).status == JobStatus.RUNNING
