"""A run deleted before or while it reads: its job ends and it leaves no records behind."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from tests.runs.conftest import ScriptedSource, graph, source
from tests.runs.test_cancel import wait_for
from tests.runs.test_delete import rows
from tests.runs.test_engine import ROSTER
from tests.runs.test_run_test_data import run_id_of
from webapp.extensions import db
from webapp.jobs.runners import execute
from webapp.models import Flow, Job, JobStatus, Run, RunRecord, RunReference


@pytest.fixture
def app_config(app_config):
    app_config["JOBS"] = "thread"  # the run goes on after the request that started it
    return app_config


class DeletingSource(ScriptedSource):
    """Hands over half of each collection, deletes every flow, then hands over the rest."""

    id = "source-deleting"

    def read(self, entities, *, sink, progress=None, cancel=None, since=None):
        for n, entity in enumerate(entities):
            records = self._records(entity)
            sink(entity, records[: len(records) // 2])
            if n == 0:
                with db.engine.begin() as conn:  # as someone deleting the flow meanwhile
                    conn.execute(delete(Flow))
            sink(entity, records[len(records) // 2:])
        return super().read(entities, sink=lambda *_: None, progress=progress,
                            cancel=cancel, since=since)


def test_a_run_deleted_while_it_reads_leaves_nothing_behind(app, ada, flows, scripted):
    app.extensions["sdm.plugins"].sources[DeletingSource.id] = DeletingSource
    flow_id = flows.create(graph(source(plugin=DeletingSource.id, records=ROSTER)))
    run_id = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))

    def ended() -> Job | None:
        with app.app_context():
            job = db.session.scalars(select(Job).where(Job.kind == "flow.run")).one()
            return job if JobStatus(job.status).terminal else None

    job = wait_for(ended, "the run's job to end")
    assert job.status == JobStatus.SUCCEEDED and job.result["status"] == "deleted"
    with app.app_context():
        assert db.session.get(Run, run_id) is None and db.session.get(Flow, flow_id) is None
    # Rows stored after the run was deleted would have no run: the job deleted them too.
    assert rows(app, RunRecord, run_id) == 0 and rows(app, RunReference, run_id) == 0


def test_a_run_deleted_before_its_turn_ends_its_job(app):
    with app.app_context():
        job = Job(kind="flow.run", params={"run_id": 4242})  # no such run any more
        db.session.add(job)
        db.session.commit()
        execute(job.id)
        db.session.expire_all()
        job = db.session.get(Job, job.id)
        assert job.status == JobStatus.SUCCEEDED and job.error is None
        assert job.result == {"run_id": 4242, "status": "deleted"}
