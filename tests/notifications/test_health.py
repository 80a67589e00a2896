"""Connection health: re-tests before scheduled runs, a warning while there is time, a chart."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from tests.runs.conftest import graph, source
from webapp import crypto
from webapp.extensions import db
from webapp.models import Cadence, Connection, Flow, Job, Schedule, User
from webapp.models.common import utcnow
from webapp.models.notifications import ConnectionCheck, NotificationEvent
from webapp.plugin_api import ERROR, SUCCESS, Checklist, ErrorInfo
from webapp.schedules import scheduler


def test_connections_are_retested_before_a_scheduled_run(app, ada, people, flows, sandbox,
                                                        smtp):
    _, inbox = smtp
    with app.app_context():
        org = people.org_id("Springfield District")
        user = db.session.scalar(select(User))
        connection = Connection(organization_id=org, name="District SIS", provider="custom",
                                base_url=sandbox.base_url, auth_url=sandbox.token_url,
                                client_id="demo",
                                client_secret_encrypted=crypto.encrypt(sandbox.secret),
                                secret_set_at=utcnow(), created_by_id=user.id)
        db.session.add(connection)
        db.session.commit()
        connection_id = connection.id
    flow_id = flows.create(graph(source(plugin="source-oneroster", connection_id=connection_id)))
    with app.app_context():
        due = utcnow() + timedelta(hours=2)
        db.session.add(Schedule(organization_id=org, flow_id=flow_id, cadence=Cadence.DAILY,
                                at="02:00", timezone="Europe/Warsaw",
                                starts_on=date(2026, 1, 1), next_run_at=due))
        db.session.commit()
        assert scheduler.tick().tested == [connection_id]
        assert scheduler.tick().tested == []  # once per due time
        [check] = db.session.scalars(select(ConnectionCheck)).all()
        assert check.ok and check.scheduled and check.latency_ms is not None

        # The secret is revoked at the SIS; the next check, hours before the run, fails.
        db.session.get(Connection, connection_id).client_secret_encrypted = crypto.encrypt(
            "revoked")
        db.session.get(Schedule, 1).next_run_at = due + timedelta(days=1)
        db.session.commit()
        later = utcnow() + timedelta(days=1)
        assert scheduler.tick(later).tested == [connection_id]
        assert [c.ok for c in db.session.scalars(select(ConnectionCheck))] == [True, False]
        event = db.session.scalar(select(NotificationEvent))
        assert event.kind == "connection.failing"
        assert db.session.scalar(select(func.count()).select_from(Job).where(
            Job.created_by_id.is_(None), Job.kind == "connection.test")) == 2

    [email] = inbox.to("ada@example.com")
    assert email["Subject"] == "SDM: Connection “District SIS” started failing its test"
    body = email.get_content()
    assert "“Nightly” runs " in body and "fix the connection before then" in body
    assert "revoked" not in body and sandbox.secret not in body

    page = ada.get(f"/connections/{connection_id}").get_data(as_text=True)
    assert 'role="img"' in page and 'aria-labelledby="health-caption"' in page
    assert "Last 2 tests: 1 passed, 1 failed" in page
    assert page.count("<rect ") == 2 and "Scheduled check" in page


def test_a_connection_that_keeps_failing_is_told_once(app, ada, people, smtp):
    from webapp.connections import health

    _, inbox = smtp
    with app.app_context():
        connection = Connection(organization_id=people.org_id("Springfield District"),
                                name="SIS", base_url="https://sis.example.org/", client_id="x",
                                client_secret_encrypted=crypto.encrypt("s"),
                                secret_set_at=utcnow())
        db.session.add(connection)
        db.session.commit()
        failed = Checklist(ERROR, error=ErrorInfo("authentication_failed",
                                                  "Authentication Failed",
                                                  advice=("Check the secret",)))
        health.record(connection, Checklist(SUCCESS, elapsed_ms=120), scheduled=False,
                      before=None)
        health.record(connection, failed, scheduled=False, before="success")
        health.record(connection, failed, scheduled=False, before="error")
        assert db.session.scalar(select(func.count()).select_from(NotificationEvent)) == 1
        for _ in range(40):
            health.record(connection, Checklist(SUCCESS, elapsed_ms=90), scheduled=True,
                          before=None)
        connection_id = connection.id
    assert len(inbox.to("ada@example.com")) == 1
    page = ada.get(f"/connections/{connection_id}").get_data(as_text=True)
    assert page.count("<rect ") == 30 and "Last 30 tests: 30 passed, 0 failed" in page


def test_the_activity_page_lists_every_run_filtered_by_status(app, ada, people, flows):
    from webapp.models import Run, RunStatus, RunTrigger

    nightly = flows.create()
    weekly = flows.create(name="Weekly")
    other_org = people.signup("eve@example.com", "Shelbyville")
    theirs = flows.create(name="Theirs", organization="Shelbyville", email="eve@example.com")
    with app.app_context():
        for flow_id, status, trigger in [(nightly, RunStatus.COMPLETED, RunTrigger.SCHEDULED),
                                         (weekly, RunStatus.FAILED, RunTrigger.MANUAL),
                                         (nightly, RunStatus.FAILED, RunTrigger.SCHEDULED),
                                         (theirs, RunStatus.FAILED, RunTrigger.MANUAL)]:
            flow = db.session.get(Flow, flow_id)
            db.session.add(Run(organization_id=flow.organization_id, flow_id=flow_id,
                               flow_name=flow.name, status=status, trigger=trigger,
                               started_at=utcnow() - timedelta(seconds=75),
                               finished_at=utcnow(), counts={"users": 1200}))
        db.session.commit()
    page = ada.get("/runs/").get_data(as_text=True)
    assert page.count("data-run-id=") == 3 and "Theirs" not in page
    assert page.count('data-trigger="scheduled"') == 2 and "1,200" in page
    failed = ada.get("/runs/?status=failed").get_data(as_text=True)
    assert failed.count("data-run-id=") == 2 and 'data-status="completed"' not in failed
    assert "No runs with this status." in ada.get("/runs/?status=cancelled").get_data(
        as_text=True)
    assert ada.get("/runs/?status=nonsense").status_code == 200
    assert other_org.get("/runs/").get_data(as_text=True).count("data-run-id=") == 1
