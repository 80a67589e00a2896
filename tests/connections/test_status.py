"""Status: a new connection is Configured; changing what a test checked resets it."""

from __future__ import annotations

import pytest

from tests.connections.conftest import VALID
from webapp.extensions import db
from webapp.models import Connection, Status
from webapp.models.common import utcnow


def _mark_tested(app, connection_id: int, people) -> None:
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        connection.status = Status.SUCCESS
        connection.test_summary = {"title": "Passed"}
        connection.last_tested_at = utcnow()
        connection.last_tested_by_id = people.admin_id
        connection.test_job_id = "job-1"
        db.session.commit()


def _state(app, connection_id: int):
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        return connection.status, connection.test_summary, connection.last_tested_at


def test_a_new_connection_is_configured(app, client, saved):
    status, summary, last_tested_at = _state(app, saved)
    assert (status, summary, last_tested_at) == (Status.CONFIGURED, None, None)
    body = client.get("/connections/").get_data(as_text=True)
    assert 'class="badge badge-configured"' in body
    assert ">Configured</span>" in body


@pytest.mark.parametrize("field, value", [
    ("base_url", "https://other.example.org/ims/oneroster/rostering/v1p2"),
    ("client_id", "another-client"),
    ("client_secret", "a-brand-new-secret"),
    ("auth_url", "https://other.example.org/oauth/token"),
    ("auth_url", ""),
    ("proxy_country", "EU"),
    ("auth_method", "oauth2_body"),
    ("oneroster_version", "1.1"),
    ("scopes", "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"),
])
def test_changing_what_a_test_checked_resets_the_status(app, client, people, saved,
                                                        field, value):
    _mark_tested(app, saved, people)
    # A secret goes only to the server it was saved for: another one needs it typed again.
    secret = "typed-again" if "other.example.org" in value else ""
    response = client.post(f"/connections/{saved}",
                           data={**VALID, "client_secret": secret, field: value})
    assert response.status_code == 303
    assert _state(app, saved) == (Status.CONFIGURED, None, None)
    with app.app_context():
        assert db.session.get(Connection, saved).test_job_id is None
    assert "back to Configured" in client.get(response.headers["Location"]).get_data(
        as_text=True)


@pytest.mark.parametrize("changes", [{"name": "Renamed"}, {}], ids=["rename", "nothing"])
def test_renaming_or_saving_unchanged_keeps_the_status(app, client, people, saved, changes):
    _mark_tested(app, saved, people)
    response = client.post(f"/connections/{saved}",
                           data={**VALID, "client_secret": "", **changes})
    assert response.status_code == 303
    status, summary, _ = _state(app, saved)
    assert (status, summary) == (Status.SUCCESS, {"title": "Passed"})
    body = client.get("/connections/").get_data(as_text=True)
    assert ">Success</span>" in body
