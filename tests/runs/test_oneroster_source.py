"""Runs reading source-oneroster over a saved connection, with the SIS faked by `responses`."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import select

from sdm_plugins.source_test_data.school import YEAR, SampleSchool
from tests.runs.conftest import graph, source
from tests.runs.test_run_test_data import run_id_of
from webapp import crypto
from webapp.extensions import db
from webapp.models import AuditEvent, Connection, User
from webapp.models.common import utcnow
from webapp.runs import services

BASE = "https://sis.example.org/ims/oneroster/rostering/v1p2"
TOKEN = "https://sis.example.org/oauth/token"
SECRET = "s3cret-value-never-shown"
SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"


class FakeSis:
    """A OneRoster server over `responses`: the sample school, enrollments possibly refused."""

    def __init__(self, rsps: responses.RequestsMock, school: SampleSchool) -> None:
        self.data = {e: [r.data for r in school.records(e)] for e in school.totals()}
        # The school year its courses and classes refer to.
        self.data["academicSessions"] = [{
            "sourcedId": YEAR, "status": "active", "dateLastModified": "2025-08-01T00:00:00Z",
            "title": "2025-2026", "type": "schoolYear", "startDate": "2025-09-01",
            "endDate": "2026-06-30", "schoolYear": "2026"}]
        self.refuse: set[str] = set()
        rsps.add(responses.POST, TOKEN, json={"access_token": "token-1", "token_type": "bearer",
                                              "expires_in": 3600, "scope": SCOPE})
        for entity in self.data:
            rsps.add_callback(responses.GET, re.compile(rf"{re.escape(BASE)}/{entity}(\?.*)?$"),
                              callback=self._answer(entity))

    def _answer(self, entity: str):
        def answer(request):
            if entity in self.refuse:
                body = {"imsx_codeMajor": "failure", "imsx_severity": "error",
                        "imsx_description": f"Access to {entity} needs the {SCOPE} scope",
                        "imsx_CodeMinor": {"imsx_codeMinorField": [
                            {"imsx_codeMinorFieldName": "TargetEndSystem",
                             "imsx_codeMinorFieldValue": "forbidden"}]}}
                return 403, {"Content-Type": "application/json"}, json.dumps(body)
            query = parse_qs(urlsplit(request.url).query)
            offset = int(query.get("offset", ["0"])[0])
            limit = int(query.get("limit", ["100"])[0])
            rows = self.data[entity]
            headers = {"X-Total-Count": str(len(rows)), "Content-Type": "application/json"}
            return 200, headers, json.dumps({entity: rows[offset:offset + limit]})
        return answer


@pytest.fixture
def sis():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeSis(rsps, SampleSchool(6, 30, 3))


@pytest.fixture
def connection_id(app, ada, people) -> int:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        connection = Connection(
            organization_id=people.org_id("Springfield District"), name="District SIS",
            provider="custom", base_url=BASE, client_id="sdm-client", auth_url=TOKEN,
            client_secret_encrypted=crypto.encrypt(SECRET), secret_set_at=utcnow(),
            created_by_id=user.id)
        db.session.add(connection)
        db.session.commit()
        return connection.id


def test_run_reads_the_sis_and_stores_exactly_its_records(app, ada, flows, sis, connection_id):
    flow_id = flows.create(graph(source(plugin="source-oneroster", connection_id=connection_id)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status == "completed", run.error
    assert run.counts == {e: len(rows) for e, rows in sis.data.items()}
    with app.app_context():
        reasons = db.session.scalars(select(AuditEvent.details).where(
            AuditEvent.action == "connection.secret_decrypted")).all()
    assert {"reason": "flow run"} in [{"reason": d.get("reason")} for d in reasons]
    for url in (f"/runs/{run.id}", f"/runs/{run.id}/data?entity=users"):
        assert SECRET not in ada.get(url).get_data(as_text=True)


def test_forbidden_collection_fails_alone_and_retry_completes(app, ada, flows, sis,
                                                             connection_id):
    sis.refuse.add("enrollments")
    flow_id = flows.create(graph(source(plugin="source-oneroster", connection_id=connection_id)))
    run_id = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    run = flows.run(run_id)
    assert run.status == "failed"
    states = {c.entity: c.state for c in run.collections}
    assert states.pop("enrollments") == "failed"
    assert set(states.values()) == {"completed"}
    failed = next(c for c in run.collections if c.entity == "enrollments")
    assert failed.error["category"] == "forbidden"
    assert run.counts["users"] == len(sis.data["users"]) and run.counts["enrollments"] == 0

    sis.refuse.clear()  # the SIS administrator granted the scope
    assert ada.post(f"/runs/{run_id}/retry").status_code == 303
    run = flows.run(run_id)
    assert run.status == "completed", run.error
    assert run.counts == {e: len(rows) for e, rows in sis.data.items()}


def test_school_filter_keeps_the_chosen_school(app, ada, flows, sis, connection_id):
    config = {"connection_id": connection_id, "schools": ["td-school"]}
    flow_id = flows.create(graph(source(plugin="source-oneroster", **config)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status == "completed", run.error
    assert run.counts == {e: len(rows) for e, rows in sis.data.items()}  # one school: all of it

    config["schools"] = ["another-school"]
    other = flows.create(graph(source(plugin="source-oneroster", **config)), name="Other")
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{other}/start")))
    assert run.counts == {"orgs": 0, "academicSessions": 1, "courses": 0, "classes": 0,
                          "users": 0, "enrollments": 0}


def test_preview_reads_one_small_page_per_collection(app, ada, sis, connection_id, people):
    node = source(plugin="source-oneroster", connection_id=connection_id)
    with app.app_context():
        result = services.preview([node], organization_id=people.org_id("Springfield District"),
                                  limit=4)
    assert result.ok, result.warnings
    assert {c.entity: c.total for c in result.collections} == \
        {e: len(rows) for e, rows in sis.data.items()}
    assert all(len(c.rows) == 4 for c in result.collections
               if c.entity not in ("orgs", "academicSessions"))


def test_preview_shows_a_forbidden_collection(app, ada, sis, connection_id, people):
    sis.refuse.add("enrollments")
    node = source(plugin="source-oneroster", connection_id=connection_id)
    with app.app_context():
        result = services.preview([node], organization_id=people.org_id("Springfield District"))
    assert not result.ok
    assert any(w.startswith("Enrollments: Access forbidden") for w in result.warnings)
