"""A poll only reads: pages and fragments that show a job abandoned by its worker write
nothing (no INSERT, UPDATE or DELETE, no commit); the sweep writes the verdict."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.writes import writes_recorded
from tests.runs.conftest import ada, app_config, flows, graph, source  # noqa: F401, F811
from tests.runs.test_delete import start
from webapp import crypto, jobs
from webapp.extensions import db
from webapp.models import (
    CollectionState,
    Connection,
    Job,
    JobStatus,
    Run,
    RunStatus,
    Status,
)
from webapp.models.common import utcnow

HX = {"HX-Request": "true"}


def abandoned_run(app, ada, flows) -> int:  # noqa: F811 - fixtures
    """A run whose job's worker stopped beating long ago, as if killed mid-run."""
    run_id = start(ada, flows.create(graph(source(classes=1, users_per_class=3, teachers=1))))
    with app.app_context():
        run = db.session.get(Run, run_id)
        job = db.session.get(Job, run.job_id)
        old = utcnow() - jobs.STALE_AFTER - timedelta(minutes=1)
        run.status, run.finished_at, run.error = RunStatus.RUNNING, None, None
        for collection in run.collections:
            collection.state = CollectionState.RUNNING
        job.status, job.heartbeat_at, job.finished_at = JobStatus.RUNNING, old, None
        db.session.commit()
    return run_id


def test_polls_of_an_abandoned_run_show_it_failed_and_write_nothing(app, ada, flows):  # noqa: F811
    run_id = abandoned_run(app, ada, flows)
    with writes_recorded(app) as writes:
        page = ada.get(f"/runs/{run_id}")
        fragment = ada.get(f"/runs/{run_id}/progress", headers=HX)
        activity = ada.get("/runs/")
    assert page.status_code == 200 and "Interrupted" in page.text
    assert fragment.status_code == 286 and "Interrupted" in fragment.text
    assert activity.status_code == 200
    assert writes == []
    with app.app_context():
        assert db.session.get(Run, run_id).status == RunStatus.RUNNING  # not written yet
        assert len(jobs.sweep()) == 1  # the sweep writes what the polls showed
        run = db.session.get(Run, run_id)
        assert run.status == RunStatus.FAILED and run.error.startswith("Interrupted")
        assert {c.state for c in run.collections} == {CollectionState.FAILED}


def abandoned_test(app, people) -> tuple[int, str]:
    """A saved connection whose test's worker stopped beating long ago."""
    with app.app_context():
        old = utcnow() - jobs.STALE_AFTER - timedelta(minutes=1)
        org = people.org_id("Springfield District")
        connection = Connection(organization_id=org, name="Lost SIS", provider="custom",
                                base_url="https://sis.example.org/ims/oneroster/v1p2",
                                client_id="sdm", client_secret_encrypted=crypto.encrypt("s"),
                                secret_set_at=old, status=Status.TESTING)
        db.session.add(connection)
        db.session.flush()
        job = Job(kind="connection.test", organization_id=org, subject_type="connection",
                  subject_id=str(connection.id), status=JobStatus.RUNNING, params={},
                  created_at=old, started_at=old, heartbeat_at=old,
                  progress={"state": "testing", "steps": [
                      {"id": "reach", "label": "Reach the server", "state": "running"}]})
        db.session.add(job)
        db.session.flush()
        connection.test_job_id = job.id
        db.session.commit()
        return connection.id, job.id


def test_polls_of_an_abandoned_test_show_it_interrupted_and_write_nothing(app, ada, people):  # noqa: F811
    connection_id, job_id = abandoned_test(app, people)
    with writes_recorded(app) as writes:
        status = ada.get(f"/connections/{connection_id}/test", headers=HX)
        badge = ada.get(f"/connections/{connection_id}/badge", headers=HX)
        page = ada.get(f"/connections/{connection_id}")
    assert status.status_code == 286 and "Test interrupted" in status.text
    assert badge.status_code == 286 and ">Error</span>" in badge.text
    assert page.status_code == 200
    assert writes == []
    with app.app_context():
        assert db.session.get(Connection, connection_id).status == Status.TESTING
        assert [job.id for job in jobs.sweep()] == [job_id]
        assert db.session.get(Connection, connection_id).status == Status.ERROR
