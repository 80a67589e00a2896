"""Run retention: a flow keeps its newest SDM_RUN_RETENTION runs after each success."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.runs.conftest import graph, source
from tests.runs.test_run_test_data import run_id_of
from webapp.extensions import db
from webapp.models import AuditEvent, Run, RunRecord
from webapp.runs.artifacts import artifacts_dir

FAILING = {"records": {"orgs": [{"sourcedId": "o-1"}]}, "fail": {"orgs": "server_error"}}


@pytest.fixture
def app_config(app_config):
    app_config["RUN_RETENTION"] = 2
    return app_config


def runs_of(app, flow_id: int) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Run.id).where(Run.flow_id == flow_id)
                                       .order_by(Run.id)))


def test_a_success_removes_the_runs_beyond_the_newest_two(app, ada, flows):
    flow_id = flows.create(graph(source(classes=1, users_per_class=4, teachers=1)))
    other = flows.create(graph(source(classes=1, users_per_class=4, teachers=1)), name="Other")
    first = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    with app.app_context():
        first_file = artifacts_dir() / db.session.get(Run, first).artifact
    untouched = run_id_of(ada.post(f"/runs/flows/{other}/start"))
    second = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    assert runs_of(app, flow_id) == [first, second] and first_file.exists()

    page = ada.get(f"/flows/{flow_id}").get_data(as_text=True)
    assert "This server keeps the newest 2 runs of each flow" in page

    third = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    assert runs_of(app, flow_id) == [second, third]
    assert not first_file.exists()
    assert runs_of(app, other) == [untouched]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RunRecord)
                                 .where(RunRecord.run_id == first)) == 0
        event = db.session.scalars(select(AuditEvent)
                                   .where(AuditEvent.action == "run.pruned")).one()
        assert event.details["runs"] == [first] and event.details["keep"] == 2
        assert "the flow keeps its last 2 runs" in event.summary


def test_a_failed_run_removes_nothing(app, ada, flows, scripted):
    flow_id = flows.create(graph(source(plugin="source-scripted", records={
        "orgs": [{"sourcedId": "o-1"}]})))
    ids = [run_id_of(ada.post(f"/runs/flows/{flow_id}/start")) for _ in range(2)]
    with app.app_context():
        flow = db.session.get(Run, ids[0]).flow
        flow.graph = graph(source(plugin="source-scripted", **FAILING))
        db.session.commit()
    failed = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    assert flows.run(failed).status == "failed"
    assert runs_of(app, flow_id) == [*ids, failed]  # three kept until a success
