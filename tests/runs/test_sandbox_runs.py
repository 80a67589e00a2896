"""Runs of source-oneroster against the sandbox SIS on loopback (tests/fixtures/sandbox.py)."""

from __future__ import annotations

import io
import re
import zipfile

from oneroster.model import ENTITIES
from tests.runs.conftest import graph, source
from tests.runs.test_engine import stored
from tests.runs.test_run_test_data import run_id_of
from webapp.extensions import db
from webapp.models import Connection

READ = (*ENTITIES, "academicSessions")  # a flow's default collections, and the sessions


def expected(sandbox) -> dict[str, int]:
    counts = sandbox.app.district.counts()
    return {e: counts[e] for e in READ}


def test_a_run_stores_exactly_the_sandboxs_records(app, ada, flows, sandbox, connect):
    flow_id = flows.create(graph(source(plugin="source-oneroster", connection_id=connect())))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    # The sandbox marks some records tobedeleted, as real SISs do: a healthy run all the same.
    assert run.status == "completed", (run.error, run.integrity)
    assert {f["code"] for f in run.integrity["info"]} >= {"tobedeleted"}
    assert run.counts == expected(sandbox)
    district = sandbox.app.district
    for entity in ("orgs", "users"):
        served = {r["sourcedId"] for r in district.records(entity, "")}
        assert set(stored(app, run.id, entity)) == served
    # The bundle's bulk files hold every record that is not tobedeleted.
    bundle = zipfile.ZipFile(io.BytesIO(ada.get(f"/runs/{run.id}/download").data))
    for entity in READ:
        live = sum(1 for r in district.records(entity, "") if r.get("status") != "tobedeleted")
        rows = bundle.read(f"{entity}.csv").decode().splitlines()
        assert len(rows) - 1 == live, entity


def test_no_enrollments_profile_fails_that_collection_and_retry_completes_it(
        app, ada, flows, sandbox, connect):
    connection_id = connect("no-enrollments")
    flow_id = flows.create(graph(source(plugin="source-oneroster", connection_id=connection_id)))
    run_id = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    run = flows.run(run_id)
    assert run.status == "failed"
    states = {c.entity: c.state for c in run.collections}
    assert states == {"orgs": "completed", "courses": "completed", "classes": "completed",
                      "users": "completed", "enrollments": "failed",
                      "academicSessions": "completed"}
    failed = next(c for c in run.collections if c.entity == "enrollments")
    assert failed.error["category"] == "forbidden" and failed.error["missing_scope"]
    page = ada.get(f"/runs/{run_id}").get_data(as_text=True)
    assert "Access forbidden" in page and "Retry failed collections" in page
    assert re.search(r"missing scope: <code>[^<]+</code>", page)

    with app.app_context():  # the SIS administrator grants the scope
        db.session.get(Connection, connection_id).client_id = "demo"
        db.session.commit()
    assert ada.post(f"/runs/{run_id}/retry").status_code == 303
    run = flows.run(run_id)
    assert run.status in ("completed", "completed_with_warnings"), run.error
    assert run.counts == expected(sandbox)
    assert [c.state for c in run.collections] == ["completed"] * len(READ)


def test_a_flaky_server_still_gives_every_record(app, ada, flows, sandbox, connect):
    flow_id = flows.create(graph(source(plugin="source-oneroster",
                                        connection_id=connect("flaky"))))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status in ("completed", "completed_with_warnings"), run.error
    assert run.counts == expected(sandbox)


def test_a_run_that_read_everything_vouches_for_its_connection(app, ada, flows, sandbox,
                                                               connect):
    connection_id = connect()
    flow_id = flows.create(graph(source(plugin="source-oneroster", connection_id=connection_id)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status == "completed"
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        assert connection.status == "success"
        assert connection.summary.run["id"] == run.id
    listed = ada.get("/connections/").get_data(as_text=True)
    assert "Working: last run" in listed
    shown = ada.get(f"/connections/{connection_id}").get_data(as_text=True)
    assert "read 6 collections through it" in shown and "last run" in shown


def test_a_failed_run_does_not_vouch_for_its_connection(app, ada, flows, sandbox, connect):
    connection_id = connect("no-enrollments")
    flow_id = flows.create(graph(source(plugin="source-oneroster", connection_id=connection_id)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status == "failed"
    with app.app_context():
        assert db.session.get(Connection, connection_id).status == "configured"
