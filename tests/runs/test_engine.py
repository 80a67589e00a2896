"""The run engine: per-collection status, retry, merge precedence, integrity, delta."""

from __future__ import annotations

import json

from sqlalchemy import select

from sdm_plugins.source_test_data.school import SampleSchool
from tests.runs.conftest import graph, org, ref, source
from tests.runs.test_run_test_data import run_id_of
from webapp.extensions import db
from webapp.models import Job, JobStatus, Run, RunRecord
from webapp.models.common import utcnow

ROSTER = {
    "orgs": [org("district", "district"), org("school-1", parent="district")],
    "courses": [{"sourcedId": "course-1", "title": "Maths", "org": ref("school-1", "org")}],
    "classes": [{"sourcedId": "class-1", "title": "Maths 1", "course": ref("course-1", "course"),
                 "school": ref("school-1", "org")}],
    "users": [{"sourcedId": f"user-{i}", "givenName": f"G{i}", "familyName": "F",
               "roles": [{"roleType": "primary", "role": "student",
                          "org": ref("school-1", "org")}]} for i in range(4)],
    "enrollments": [{"sourcedId": f"enr-{i}", "user": ref(f"user-{i}", "user"),
                     "class": ref("class-1", "class"), "school": ref("school-1", "org"),
                     "role": "student"} for i in range(4)],
}


def stored(app, run_id: int, entity: str) -> dict[str, dict]:
    with app.app_context():
        rows = db.session.execute(select(RunRecord.sourced_id, RunRecord.data).where(
            RunRecord.run_id == run_id, RunRecord.entity == entity,
            RunRecord.superseded.is_(False))).all()
    return {sourced_id: json.loads(data) for sourced_id, data in rows}


def test_a_failing_collection_keeps_the_others_and_retry_completes_the_run(
        app, ada, flows, scripted):
    flow_id = flows.create(graph(source(plugin="source-scripted", records=ROSTER,
                                        fail={"enrollments": "forbidden"}, fail_times=1)))
    run_id = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    run = flows.run(run_id)
    assert run.status == "failed"
    states = {c.entity: c.state for c in run.collections}
    assert states == {"orgs": "completed", "courses": "completed", "classes": "completed",
                      "users": "completed", "enrollments": "failed"}
    failed = next(c for c in run.collections if c.entity == "enrollments")
    assert failed.error["title"] == "Access forbidden"
    assert failed.error["missing_scope"] == "roster.readonly"
    assert run.counts["users"] == 4 and run.counts["enrollments"] == 2  # partial, kept
    assert run.output is None
    page = ada.get(f"/runs/{run_id}").get_data(as_text=True)
    assert "Retry failed collections" in page and "Access forbidden" in page

    response = ada.post(f"/runs/{run_id}/retry")
    assert response.status_code == 303
    run = flows.run(run_id)
    assert run.status == "completed", run.error
    assert scripted.reads[-1] == ("enrollments",)  # only the failed collection was refetched
    assert run.counts == {"orgs": 2, "courses": 1, "classes": 1, "users": 4, "enrollments": 4}
    assert run.attempts == 2 and run.output is not None
    assert "Retry failed collections" not in ada.get(f"/runs/{run_id}").get_data(as_text=True)


def test_retry_of_a_completed_run_is_refused(ada, flows, scripted):
    flow_id = flows.create(graph(source(plugin="source-scripted", records=ROSTER)))
    run_id = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    response = ada.post(f"/runs/{run_id}/retry", headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert "nothing to retry" in response.get_data(as_text=True)


def test_merge_precedence_keeps_the_first_sources_record(app, ada, flows):
    small = source("source-1", classes=2, users_per_class=3, teachers=1, label="School A")
    large = source("source-2", classes=5, users_per_class=8, teachers=3, label="School B")
    b_first = flows.create(graph(small, large, precedence=["source-2", "source-1"]))
    run_id = run_id_of(ada.post(f"/runs/flows/{b_first}/start"))
    run = flows.run(run_id)
    assert run.status == "completed", run.error
    users = stored(app, run_id, "users")
    expected = {r.sourced_id: r.data for r in SampleSchool(5, 8, 3).records("users")}
    # Source B covers every sourcedId A has, and wins each of them.
    assert users == expected
    assert run.integrity["info"] and run.integrity["info"][0]["code"] == "merged"

    a_first = flows.create(graph(small, large, precedence=["source-1", "source-2"]), name="A")
    other = run_id_of(ada.post(f"/runs/flows/{a_first}/start"))
    users = stored(app, other, "users")
    mine = {r.sourced_id: r.data for r in SampleSchool(2, 3, 1).records("users")}
    assert all(users[k] == v for k, v in mine.items())  # A wins on the overlap
    assert len(users) == len(expected)  # B's extra users are kept


def test_integrity_report_warns_about_broken_references(ada, flows, scripted):
    broken = {**ROSTER,
              "enrollments": ROSTER["enrollments"] + [
                  {"sourcedId": "enr-x", "user": ref("ghost", "user"),
                   "class": ref("class-404", "class"), "school": ref("school-1", "org"),
                   "role": "student"}],
              "classes": ROSTER["classes"] + [
                  {"sourcedId": "class-2", "title": "Art", "course": ref("course-9", "course"),
                   "school": ref("school-9", "org")}],
              "users": ROSTER["users"] + [
                  {"sourcedId": "user-old", "status": "tobedeleted", "givenName": "Old",
                   "familyName": "F", "roles": []}]}
    flow_id = flows.create(graph(source(plugin="source-scripted", records=broken)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status == "completed_with_warnings"
    found = {w["code"]: w for w in run.integrity["warnings"]}
    assert found["missing_user"]["count"] == 1 and found["missing_user"]["examples"] == ["enr-x"]
    assert found["missing_class"]["count"] == 1
    assert found["missing_course"]["examples"] == ["class-2"]
    assert found["missing_school"]["examples"] == ["class-2"]
    assert "tobedeleted" not in found  # the SIS's own marking: information, not a warning
    deleted = {f["code"]: f for f in run.integrity["info"]}["tobedeleted"]
    assert deleted["count"] == 1 and deleted["message"] == "1 user marked tobedeleted by the SIS"
    page = ada.get(f"/runs/{run.id}").get_data(as_text=True)
    assert "1 enrollment points to a missing user" in page
    assert "Completed with warnings" in page
    # tobedeleted records are left out of a bulk bundle
    assert run.output["files"]["users.csv"] == 4


def test_delta_sync_reads_changes_since_the_last_successful_run(ada, flows):
    flow_id = flows.create(graph(source(sync="delta", classes=2, users_per_class=2, teachers=1)))
    first = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert first.sources[0]["since"] is None  # no earlier run: everything
    assert first.counts["users"] == SampleSchool(2, 2, 1).totals()["users"]
    second = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert second.sources[0]["since"] == first.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert second.status == "completed" and second.total == 0  # sample data never changes
    assert "delta run" in " ".join(second.integrity["notes"])


def test_a_run_whose_worker_died_is_shown_failed(app, ada, flows):
    flow_id = flows.create()
    run_id = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    with app.app_context():
        run = db.session.get(Run, run_id)
        run.status = "running"
        job = db.session.get(Job, run.job_id)
        job.status = JobStatus.FAILED
        job.error = "Interrupted: the worker running this job stopped."
        db.session.commit()
    html = ada.get(f"/runs/{run_id}/progress", headers={"HX-Request": "true"})
    assert html.status_code == 286
    assert "Interrupted" in html.get_data(as_text=True)
    assert flows.run(run_id).status == "running"  # a poll only reads
    again = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))  # the next press settles it
    assert again != run_id and flows.run(run_id).status == "failed"


def test_a_flow_whose_connection_was_deleted_says_so(ada, flows):
    flow_id = flows.create(graph(source(plugin="source-oneroster", connection_id=999)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status == "failed"
    assert {c.error["title"] for c in run.collections} == {"Connection missing"}
    assert "Connection missing" in ada.get(f"/runs/{run.id}").get_data(as_text=True)


class FlakyOutput:
    """An output plugin that fails its first write."""

    id = "output-flaky"
    name = "Flaky bundle"
    extension = "zip"
    media_type = "application/zip"
    writes = 0

    def __init__(self, config, *, organization_id=None) -> None:
        pass

    def filename(self, data) -> str:
        return f"flaky-{data.run_id}.zip"

    def write(self, data, path):
        from webapp.plugin_api import OutputResult

        FlakyOutput.writes += 1
        path.write_bytes(b"partial")
        if FlakyOutput.writes == 1:
            raise OSError("disk full")
        return OutputResult({"users.csv": data.count("users")})


def test_a_failing_output_leaves_the_run_completed_and_can_be_written_again(app, ada, flows):
    FlakyOutput.writes = 0
    app.extensions["sdm.plugins"].outputs[FlakyOutput.id] = FlakyOutput
    flow_graph = graph(source(classes=2, users_per_class=2, teachers=1))
    flow_graph["nodes"][-1]["plugin"] = FlakyOutput.id
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flows.create(flow_graph)}/start")))
    assert run.status == "completed"
    assert run.output["state"] == "failed" and "error has been logged" in run.output["error"]
    assert ada.get(f"/runs/{run.id}/download").status_code == 404
    page = ada.get(f"/runs/{run.id}").get_data(as_text=True)
    assert "Write the Flaky bundle again" in page

    assert ada.post(f"/runs/{run.id}/output").status_code == 303
    run = flows.run(run.id)
    assert run.output["state"] == "ready"
    assert run.output["files"] == {"users.csv": SampleSchool(2, 2, 1).totals()["users"]}
    assert ada.get(f"/runs/{run.id}/download").data == b"partial"


def test_an_output_whose_job_died_is_shown_failed_and_polling_stops(app, ada, flows):
    run_id = run_id_of(ada.post(f"/runs/flows/{flows.create()}/start"))
    with app.app_context():
        run = db.session.get(Run, run_id)
        job = db.session.get(Job, run.output["job_id"])
        run.output = {**run.output, "state": "writing"}
        db.session.commit()
        assert job.status == JobStatus.SUCCEEDED  # ended without finishing the output
    response = ada.get(f"/runs/{run_id}/progress", headers={"HX-Request": "true"})
    assert response.status_code == 286
    assert flows.run(run_id).output["state"] == "writing"  # a poll only reads
    assert ada.post(f"/runs/{run_id}/output").status_code == 303  # the next write settles it
    assert flows.run(run_id).output["state"] != "writing"


def test_polling_goes_on_while_the_output_is_written(app, ada, flows):
    run_id = run_id_of(ada.post(f"/runs/flows/{flows.create()}/start"))
    with app.app_context():
        run = db.session.get(Run, run_id)
        job = db.session.get(Job, run.output["job_id"])
        job.status, job.heartbeat_at = JobStatus.RUNNING, utcnow()
        run.output = {**run.output, "state": "writing"}
        db.session.commit()
    response = ada.get(f"/runs/{run_id}/progress", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in html
    assert "Writing the OneRoster 1.2 CSV bundle" in html and "Download" not in html


def test_records_the_database_refuses_fail_the_run_without_hanging(ada, flows, scripted):
    roster = {**ROSTER, "users": [{"sourcedId": None, "givenName": "Nobody"}]}
    flow_id = flows.create(graph(source(plugin="source-scripted", records=roster)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status == "failed"
    failed = [c for c in run.collections if c.state == "failed"]
    assert failed and all(c.error["title"] == "Storing failed" for c in failed)


def test_stored_records_are_exactly_what_the_source_sent(app, ada, flows, scripted):
    users = [{"sourcedId": "u-1", "status": "active", "givenName": "Zoë",
              "familyName": "Wiśniewska", "grades": ["09"],
              "roles": [{"role": "student", "org": ref("school-1", "org")}],
              "enabledUser": True, "metadata": {"score": 1.5, "nested": {"list": [1, None]}}}]
    flow_id = flows.create(graph(source(plugin="source-scripted",
                                        records={**ROSTER, "users": users})))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert stored(app, run.id, "users") == {"u-1": users[0]}
    page = ada.get(f"/runs/{run.id}/data?entity=users&q=Wiśniewska").get_data(as_text=True)
    assert "1 user matching" in page and "Zoë" in page


def test_a_crashing_source_fails_its_collections_not_the_others(ada, flows, scripted):
    fine = source("source-1", plugin="source-scripted", records=ROSTER)
    broken = source("source-2", plugin="source-scripted", records=ROSTER, explode=True)
    flow_id = flows.create(graph(fine, broken))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status == "failed"
    states = {(c.source_node, c.state) for c in run.collections}
    assert states == {("source-1", "completed"), ("source-2", "failed")}
    errors = {c.error["title"] for c in run.collections if c.error}
    assert errors == {"Internal error"}
    assert run.counts["users"] == 4  # the working source's records are kept


def test_an_engine_failure_ends_the_run_failed(app, ada, flows, monkeypatch):
    from webapp.runs import integrity

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the report")

    monkeypatch.setattr(integrity, "report", broken)
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flows.create()}/start")))
    assert run.status == "failed" and "internal error" in run.error
    with app.app_context():
        job = db.session.get(Job, run.job_id)
        assert job.status == JobStatus.FAILED
