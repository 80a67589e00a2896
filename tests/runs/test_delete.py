"""Deleting a run: its records, collections and file go; the flow and its other runs stay."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from tests.runs.conftest import graph, source
from tests.runs.test_run_test_data import run_id_of
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Flow,
    Job,
    JobStatus,
    Organization,
    Run,
    RunCollection,
    RunRecord,
    RunReference,
    RunStatus,
)
from webapp.models.common import utcnow
from webapp.runs.artifacts import artifacts_dir

HX = {"HX-Request": "true"}


def start(client, flow_id: int) -> int:
    return run_id_of(client.post(f"/runs/flows/{flow_id}/start"))


def rows(app, model, run_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)
                                 .where(model.run_id == run_id))


def test_deleting_a_run_removes_its_records_collections_and_file(app, ada, flows):
    flow_id = flows.create(graph(source(classes=2, users_per_class=5, teachers=1)))
    kept, doomed = start(ada, flow_id), start(ada, flow_id)
    with app.app_context():
        artifact = artifacts_dir() / db.session.get(Run, doomed).artifact
    assert artifact.exists() and rows(app, RunRecord, doomed) > 0

    page = ada.get(f"/runs/{doomed}").get_data(as_text=True)
    assert f'action="/runs/{doomed}/delete"' in page and "Delete this run" in page
    response = ada.post(f"/runs/{doomed}/delete")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/flows/{flow_id}")
    flow_page = ada.get(response.headers["Location"]).text
    assert f"Run {doomed} of Nightly deleted" in flow_page
    assert 'data-testid="retention"' not in flow_page  # every run is kept by default

    with app.app_context():
        assert db.session.get(Run, doomed) is None
        event = db.session.scalars(select(AuditEvent)
                                   .where(AuditEvent.action == "run.deleted")).one()
        assert f"Deleted run {doomed} of flow Nightly" in event.summary
    assert rows(app, RunRecord, doomed) == 0 and rows(app, RunCollection, doomed) == 0
    assert not artifact.exists()
    assert rows(app, RunRecord, kept) > 0  # the other run is untouched
    assert ada.get(f"/runs/{kept}/download").status_code == 200
    assert ada.get(f"/runs/{doomed}").status_code == 404


def test_members_delete_only_runs_of_their_flows_or_their_own(app, ada, people, flows):
    flow_id = flows.create(graph(source(classes=1, users_per_class=3, teachers=1)))
    run_id = start(ada, flow_id)
    bea = people.join("bea@example.com", "Springfield District")
    assert 'data-testid="delete-run"' not in bea.get(f"/runs/{run_id}").text
    assert bea.post(f"/runs/{run_id}/delete").status_code == 403
    own = start(bea, flow_id)
    assert 'data-testid="delete-run"' in bea.get(f"/runs/{own}").text
    assert bea.post(f"/runs/{own}/delete").status_code == 303
    with app.app_context():
        assert db.session.get(Run, run_id) is not None and db.session.get(Run, own) is None


def test_a_run_still_going_is_not_deleted(app, ada, flows):
    flow_id = flows.create(graph(source(classes=1, users_per_class=3, teachers=1)))
    run_id = start(ada, flow_id)
    with app.app_context():  # as if its job were still reading
        run = db.session.get(Run, run_id)
        job = db.session.get(Job, run.job_id)
        run.status, run.finished_at = RunStatus.RUNNING, None
        job.status, job.heartbeat_at = JobStatus.RUNNING, utcnow()
        db.session.commit()
    assert 'data-testid="delete-run"' not in ada.get(f"/runs/{run_id}").text
    refused = ada.post(f"/runs/{run_id}/delete", headers=HX)
    assert refused.status_code == 409 and "still going" in refused.text
    assert rows(app, RunRecord, run_id) > 0


def test_a_flow_or_organization_deleted_takes_its_runs_records_and_references(app, ada, flows):
    """No foreign key holds a run's rows (it slowed storing): the database deletes them."""
    first = flows.create(graph(source(classes=2, users_per_class=4, teachers=1)))
    second = flows.create(graph(source(classes=2, users_per_class=4, teachers=1)), name="Weekly")
    gone, kept = start(ada, first), start(ada, second)
    for run_id in (gone, kept):
        assert rows(app, RunRecord, run_id) > 0 and rows(app, RunReference, run_id) > 0
    with app.app_context():  # as the database cascades it: flow, then its runs
        db.session.execute(delete(Flow).where(Flow.id == first))
        db.session.commit()
    assert rows(app, RunRecord, gone) == 0 and rows(app, RunReference, gone) == 0
    assert rows(app, RunRecord, kept) > 0 and rows(app, RunReference, kept) > 0
    with app.app_context():
        db.session.execute(delete(Organization))
        db.session.commit()
    assert rows(app, RunRecord, kept) == 0 and rows(app, RunReference, kept) == 0

