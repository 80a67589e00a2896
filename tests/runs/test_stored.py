"""A run's stored records as its output reads them: every winner once, in sourcedId order."""

from __future__ import annotations

import orjson
from sqlalchemy import select, update

from tests.runs.conftest import graph
from tests.runs.test_run_test_data import run_id_of
from webapp.extensions import db
from webapp.models import RunRecord
from webapp.runs.stored import StoredRunData


def test_records_stream_every_winner_once_in_sourced_id_order(app, ada, flows):
    flow_id = flows.create(graph())
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    with app.app_context():
        loser = db.session.scalars(select(RunRecord.sourced_id).where(
            RunRecord.run_id == run.id, RunRecord.entity == "users")
            .order_by(RunRecord.sourced_id).offset(3).limit(1)).one()
        db.session.execute(update(RunRecord).where(
            RunRecord.run_id == run.id, RunRecord.sourced_id == loser).values(superseded=True))
        db.session.commit()
        expected = db.session.execute(
            select(RunRecord.sourced_id, RunRecord.status, RunRecord.data).where(
                RunRecord.run_id == run.id, RunRecord.entity == "users",
                RunRecord.superseded.is_(False)).order_by(RunRecord.sourced_id)).all()
        data = StoredRunData(run.id, "Nightly", {"users": "bulk"}, fetch=7)
        found = list(data.records("users"))
        assert len(expected) > 2 * 7 and data.count("users") == len(expected)
        assert [(r.sourced_id, r.status, r.data) for r in found] == [
            (sourced_id, status, orjson.loads(text)) for sourced_id, status, text in expected]
        assert loser not in {r.sourced_id for r in found}
