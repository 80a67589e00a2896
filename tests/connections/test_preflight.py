"""Pre-flight: every sampled record checked, the errors that would stop an import listed,
run as a job and shown live."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from oneroster.model import ENTITIES, Category, OneRosterError
from oneroster.preflight import run_preflight
from sdm_plugins.source_oneroster.source import to_plugin_result
from tests.connections.scripted_client import DeferredRunner, ScriptedClient, page, settings
from webapp.connections.preflight import preflight_result, start_preflight
from webapp.extensions import db
from webapp.models import AuditEvent, Connection, Job, JobStatus
from webapp.models.common import utcnow


def preflight(client, **kwargs):
    reports: list[dict] = []
    result = run_preflight(settings(), report=reports.append,
                           client_factory=lambda s: client, **kwargs)
    return result, reports


def test_clean_source_passes_with_totals():
    client = ScriptedClient(pages={"users": page("users", 40, total=600)})
    result, reports = preflight(client)

    assert result["ok"] and result["state"] == "success"
    assert result["errors"] == [] and result["warnings"] == []
    assert result["totals"]["users"] == 600
    assert reports[0]["state"] == "testing"
    labels = [s["label"] for s in result["steps"]]
    assert labels[:3] == ["Base URL", "Proxy", "Credentials"]


def test_only_the_chosen_collections_are_checked():
    client = ScriptedClient()
    result, _ = preflight(client, entities=["users", "orgs"])
    assert [s["id"] for s in result["steps"]][3:] == ["orgs", "users"]
    assert {c[1] for c in client.calls if c[0] == "page"} == {"orgs", "users"}
    assert set(result["totals"]) == {"orgs", "users"}


def test_missing_essential_field_in_any_sampled_record_stops_an_import():
    users = page("users", 10)
    broken = users.records[7].raw
    del broken["givenName"]
    client = ScriptedClient(pages={"users": users})
    result, _ = preflight(client)

    assert not result["ok"]
    assert len(result["errors"]) == 1
    assert "Users" in result["errors"][0] and "1 of 10" in result["errors"][0]
    assert "givenName" in result["errors"][0]


def test_missing_other_required_field_only_warns():
    client = ScriptedClient(pages={"courses": page("courses", 5, drop=("courseCode",))})
    result, _ = preflight(client)
    assert result["ok"]
    assert result["warnings"] and "courseCode" in result["warnings"][0]


def test_unreadable_collection_and_bad_credentials_are_listed():
    forbidden = OneRosterError(Category.FORBIDDEN, "Forbidden.", status=403,
                               missing_scope="roster.readonly")
    result, _ = preflight(ScriptedClient(pages={"enrollments": forbidden}))
    assert not result["ok"]
    assert result["errors"] == ["Enrollments: Access forbidden. Forbidden."]

    refused = OneRosterError(Category.AUTHENTICATION, "The token endpoint refused the client.",
                             status=401)
    result, _ = preflight(ScriptedClient(token=refused))
    assert result["errors"] == [
        "Credentials: Authentication Failed. The token endpoint refused the client."]
    assert all(result["totals"][e] is None for e in ENTITIES)


def test_empty_collection_warns():
    result, _ = preflight(ScriptedClient(pages={"classes": page("classes", 0)}))
    assert result["ok"] and any("Classes" in w for w in result["warnings"])


def test_plugin_contract_shape():
    result, _ = preflight(ScriptedClient())
    shaped = to_plugin_result(result)
    assert shaped.ok and shaped.errors == () and shaped.details is result
    assert shaped.totals["orgs"] == 3


def test_sandbox_preflight_reports_the_district_totals(sandbox):
    result = run_preflight(sandbox.settings("demo"), budget=20)
    assert result["ok"], result["errors"]
    assert result["totals"] == {e: sandbox.app.district.counts()[e] for e in ENTITIES}


def test_sandbox_preflight_lists_what_stops_an_import(sandbox):
    result = run_preflight(sandbox.settings("no-enrollments"), budget=20)
    assert not result["ok"]
    assert len(result["errors"]) == 1 and result["errors"][0].startswith("Enrollments:")


# --- The pre-flight service and its live fragment -----------------------------------

def _saved(app, create, sandbox, client_id="demo") -> int:
    response = create(name=f"Sandbox {client_id}", base_url=sandbox.base_url,
                      auth_url=sandbox.token_url, client_id=client_id,
                      client_secret=sandbox.secret)
    assert response.status_code == 303, response.text
    with app.app_context():
        return db.session.scalar(select(Connection.id).where(
            Connection.client_id == client_id))


def test_preflight_service_runs_and_its_fragment_shows_the_verdict(app, client, people, login,
                                                                  create, sandbox):
    login(people.member_id)
    connection_id = _saved(app, create, sandbox)
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        job = start_preflight(connection, entities=["users", "orgs"], user_id=people.member_id)
        result = preflight_result(job)
        job_id = job.id
    assert result["state"] == "success" and result["ok"] and result["errors"] == []
    assert set(result["totals"]) == {"orgs", "users"}
    assert result["totals"]["users"] == sandbox.app.district.counts()["users"]

    response = client.get(f"/connections/preflight/{job_id}", headers={"HX-Request": "true"})
    assert response.status_code == 286 and "hx-trigger" not in response.text
    assert f'id="test-status-preflight-{job_id}"' in response.text
    assert 'aria-live="polite"' in response.text and "Ready to import" in response.text
    assert 'data-step="users" data-state="ok"' in response.text
    assert 'data-step="courses"' not in response.text
    page = client.get(f"/connections/preflight/{job_id}")
    assert page.status_code == 200 and "<html" in page.text
    reasons = [e.details["reason"] for e in _audit(app, "connection.secret_decrypted")]
    assert reasons == ["pre-flight check"]


def test_preflight_names_what_would_stop_an_import(app, client, people, login, create,
                                                   sandbox):
    login(people.admin_id)
    connection_id = _saved(app, create, sandbox, client_id="no-enrollments")
    with app.app_context():
        job = start_preflight(db.session.get(Connection, connection_id),
                              user_id=people.admin_id)
        job_id = job.id
        assert preflight_result(job)["errors"][0].startswith("Enrollments:")
    html = client.get(f"/connections/preflight/{job_id}", headers={"HX-Request": "true"}).text
    assert "1 problem would prevent an import" in html
    assert "These would prevent an import" in html and "roster.readonly" in html


def test_a_running_preflight_polls_and_is_joined(app, client, people, login, create, sandbox):
    login(people.admin_id)
    connection_id = _saved(app, create, sandbox)
    runner = DeferredRunner()
    app.extensions["sdm.jobs"] = runner
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        first = start_preflight(connection, entities=["users"]).id
        assert start_preflight(connection, entities=["users"]).id == first
        assert start_preflight(connection, entities=["orgs"]).id != first
    running = client.get(f"/connections/preflight/{first}", headers={"HX-Request": "true"})
    assert running.status_code == 200 and 'hx-trigger="every 1s"' in running.text
    runner.run_pending(app)
    done = client.get(f"/connections/preflight/{first}", headers={"HX-Request": "true"})
    assert done.status_code == 286 and "Ready to import" in done.text


def test_a_killed_preflight_is_recovered(app, client, people, login, create, sandbox):
    login(people.admin_id)
    connection_id = _saved(app, create, sandbox)
    app.extensions["sdm.jobs"] = DeferredRunner()
    with app.app_context():
        job = start_preflight(db.session.get(Connection, connection_id))
        old = utcnow() - timedelta(minutes=5)
        job.status, job.started_at, job.heartbeat_at = JobStatus.RUNNING, old, old
        db.session.commit()
        job_id = job.id
    response = client.get(f"/connections/preflight/{job_id}", headers={"HX-Request": "true"})
    assert response.status_code == 286 and "would prevent an import" in response.text
    with app.app_context():
        assert preflight_result(db.session.get(Job, job_id))["state"] == "error"


def _audit(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
