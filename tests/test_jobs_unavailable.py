"""Redis down is an answer: nothing half-started, a clear message, polls and /healthz answer."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.fixtures import redis_server
from webapp import crypto
from webapp.extensions import db
from webapp.models import Connection, Flow, Job, Run, Status, User
from webapp.models.common import utcnow

HX = {"HX-Request": "true"}
UNAVAILABLE = "Background jobs are unavailable: the job queue (Redis) cannot be reached."

pytestmark = redis_server.NEEDS_REDIS
redis, app_config = redis_server.redis, redis_server.app_config  # this module's jobs run on RQ


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def setup(app, people):
    """A connection whose last test passed, and a flow of test data."""
    client = people.signup("ada@example.com", "Springfield District")
    with app.app_context():
        org = people.org_id("Springfield District")
        user = db.session.scalar(select(User))
        connection = Connection(organization_id=org, name="SIS", base_url="https://sis.test/",
                                client_id="id", client_secret_encrypted=crypto.encrypt("s3cret"),
                                secret_set_at=utcnow(), status=Status.SUCCESS,
                                last_tested_at=utcnow(), test_summary={"title": "Passed"},
                                created_by_id=user.id)
        flow = Flow(organization_id=org, name="Nightly", created_by_id=user.id, graph={
            "nodes": [{"id": "source-1", "kind": "source", "plugin": "source-test-data",
                       "label": "Test data", "config": {"entities": ["orgs"], "sync": "full",
                                                        "schools": []}},
                      {"id": "output", "kind": "output", "plugin": "output-oneroster-csv",
                       "config": {}}]})
        other = Flow(organization_id=org, name="Weekly", created_by_id=user.id,
                     graph=flow.graph)
        db.session.add_all([connection, flow, other])
        db.session.commit()
        return client, connection.id, flow.id, other.id


def test_redis_stopped_while_in_use(app, redis, setup):
    client, connection_id, flow_id, other_id = setup
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok", "jobs": "ok"}
    started = client.post(f"/runs/flows/{flow_id}/start")  # queued in Redis, no worker yet
    assert started.status_code == 303
    run_url = started.headers["Location"]

    redis.stop()

    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json() == {"status": "error", "database": "ok", "jobs": "unavailable"}

    with app.app_context():
        jobs_before, runs_before = count(Job), count(Run)
    test = client.post(f"/connections/{connection_id}/test", headers=HX)
    assert test.status_code == 503 and UNAVAILABLE in test.get_data(as_text=True)
    page = client.post(f"/connections/{connection_id}/test")
    assert page.status_code == 503 and UNAVAILABLE in page.get_data(as_text=True)
    run = client.post(f"/runs/flows/{other_id}/start", headers=HX)
    assert run.status_code == 503 and UNAVAILABLE in run.get_data(as_text=True)
    with app.app_context():
        assert (count(Job), count(Run)) == (jobs_before, runs_before)  # nothing half-started
        connection = db.session.get(Connection, connection_id)
        assert connection.status == Status.SUCCESS  # the previous verdict stands
        assert connection.test_job_id is None

    # Polls keep answering from the database.
    assert client.get(f"/connections/{connection_id}/badge", headers=HX).status_code == 286
    assert client.get(run_url).status_code == 200
    progress = client.get(run_url + "/progress", headers=HX)
    assert progress.status_code in (200, 204) and "Queued" in client.get(run_url).get_data(
        as_text=True)
    assert client.get(f"/flows/{flow_id}").status_code == 200


def test_the_scheduler_notes_a_due_run_it_could_not_start(app, redis, setup):
    from datetime import date, timedelta

    from webapp.models import Cadence, DueRun, DueRunOutcome, Schedule
    from webapp.schedules import scheduler

    _, _, flow_id, _ = setup
    with app.app_context():
        db.session.add(Schedule(organization_id=db.session.get(Flow, flow_id).organization_id,
                                flow_id=flow_id, cadence=Cadence.DAILY, at="02:00",
                                timezone="UTC", starts_on=date(2026, 1, 1),
                                next_run_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        redis.stop()
        assert scheduler.tick().started == []
        claim = db.session.scalar(select(DueRun))
        assert claim.outcome == DueRunOutcome.UNAVAILABLE and claim.note.startswith(UNAVAILABLE)
        assert count(Run) == 0
