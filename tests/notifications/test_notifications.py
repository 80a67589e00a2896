"""Notifications: emails to the loopback SMTP server, signed webhooks with retries, choices."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Flow, Run, RunStatus, RunTrigger
from webapp.models.common import utcnow
from webapp.models.notifications import Delivery, DeliveryState, NotificationEvent
from webapp.notifications import delivery
from webapp.schedules import scheduler

ADA = "ada@example.com"


def ended_run(app, flow_id: int, status: RunStatus, *, trigger=RunTrigger.SCHEDULED,
              error: str | None = None) -> int:
    with app.app_context():
        flow = db.session.get(Flow, flow_id)
        run = Run(organization_id=flow.organization_id, flow_id=flow.id, flow_name=flow.name,
                  status=status, trigger=trigger, error=error, started_at=utcnow(),
                  finished_at=utcnow(), counts={"users": 12})
        db.session.add(run)
        db.session.commit()
        return run.id


def add_webhook(client, url: str, events=("run.failed", "run.recovered")) -> str:
    response = client.post("/notifications/webhooks", data={"url": url, "events": list(events)})
    assert response.status_code == 303
    page = client.get("/notifications/").get_data(as_text=True)
    secret = re.search(r"<code>(whsec_[^<]+)</code>", page).group(1)
    assert secret not in client.get("/notifications/").get_data(as_text=True)  # shown once
    return secret


def test_a_failed_scheduled_run_is_emailed_and_posted_signed(app, ada, flows, smtp, receiver):
    _, inbox = smtp
    secret = add_webhook(ada, receiver.url)
    flow_id = flows.create()
    run_id = ended_run(app, flow_id, RunStatus.FAILED, error="Authentication Failed")
    with app.app_context():
        assert scheduler.tick().events == 1
        assert scheduler.tick().events == 0  # told once

    [email] = inbox.to(ADA)
    assert email["Subject"] == "SDM: Scheduled run of “Nightly” failed"
    body = email.get_content()
    assert "Error: Authentication Failed" in body
    assert f"https://sdm.example.org/runs/{run_id}" in body

    [hook] = receiver.received
    assert hook["json"]["event"] == "run.failed" and hook["json"]["data"]["run_id"] == run_id
    timestamp = hook["headers"]["X-SDM-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + hook["body"],
                                    hashlib.sha256).hexdigest()
    assert hook["headers"]["X-SDM-Signature"] == expected
    with app.app_context():
        states = db.session.scalars(select(Delivery.state)).all()
        assert sorted(states) == ["delivered", "delivered"]
        stored = repr([(e.title, e.payload) for e in db.session.scalars(
            select(NotificationEvent))])
        assert secret not in stored


def test_a_webhook_that_fails_is_retried_with_backoff(app, ada, flows, receiver):
    receiver.statuses = [500, 503]
    add_webhook(ada, receiver.url)
    flow_id = flows.create()
    ended_run(app, flow_id, RunStatus.FAILED, error="Timeout")
    with app.app_context():
        scheduler.tick()
        hook = db.session.scalar(select(Delivery).where(Delivery.channel == "webhook"))
        assert (hook.state, hook.attempts, hook.last_status) == (DeliveryState.RETRYING, 1, 500)
        first_wait = hook.next_attempt_at - utcnow()
        assert timedelta(seconds=25) < first_wait <= delivery.BACKOFF[0]

        scheduler.tick(utcnow() + timedelta(seconds=5))  # not yet due
        assert len(receiver.received) == 1
        scheduler.tick(utcnow() + delivery.BACKOFF[0] + timedelta(seconds=1))
        db.session.expire_all()
        hook = db.session.get(Delivery, hook.id)
        assert (hook.state, hook.attempts, hook.last_status) == (DeliveryState.RETRYING, 2, 503)
        assert hook.next_attempt_at - utcnow() > timedelta(seconds=100)  # the second backoff

        scheduler.tick(utcnow() + delivery.BACKOFF[1] + timedelta(seconds=1))
        db.session.expire_all()
        hook = db.session.get(Delivery, hook.id)
        assert (hook.state, hook.attempts) == (DeliveryState.DELIVERED, 3)
    assert len(receiver.received) == 3
    assert len({r["headers"]["X-SDM-Delivery"] for r in receiver.received}) == 1
    log = ada.get("/notifications/").get_data(as_text=True)
    assert 'data-state="delivered"' in log and "Delivered" in log


def test_a_webhook_that_never_answers_gives_up_after_the_last_attempt(app, ada, flows,
                                                                      receiver):
    receiver.statuses = [500] * 10
    add_webhook(ada, receiver.url)
    ended_run(app, flows.create(), RunStatus.FAILED)
    with app.app_context():
        scheduler.tick()
        for _ in delivery.BACKOFF:  # each pass just after the attempt it waited for is due
            db.session.expire_all()
            hook = db.session.scalar(select(Delivery).where(Delivery.channel == "webhook"))
            scheduler.tick(hook.next_attempt_at + timedelta(seconds=1))
        db.session.expire_all()
        hook = db.session.scalar(select(Delivery).where(Delivery.channel == "webhook"))
        assert (hook.state, hook.attempts) == (DeliveryState.FAILED, delivery.MAX_ATTEMPTS)
    page = ada.get("/notifications/").get_data(as_text=True)
    assert "The endpoint answered HTTP 500." in page


def test_each_person_chooses_what_they_receive(app, ada, flows, people, smtp):
    _, inbox = smtp
    bob = people.join("bob@example.com", "Springfield District")
    assert bob.post("/notifications/choices", data={"events": ["run.recovered"]}
                    ).status_code == 303
    page = bob.get("/notifications/").get_data(as_text=True)
    assert 'value="run.recovered" checked' in page and 'value="run.failed" checked' not in page
    assert "Delivery log" not in page  # members do not see the organization's log

    flow_id = flows.create()
    ended_run(app, flow_id, RunStatus.FAILED)
    ended_run(app, flow_id, RunStatus.COMPLETED, trigger=RunTrigger.MANUAL)
    with app.app_context():
        assert scheduler.tick().events == 2
    assert [m["Subject"] for m in inbox.to(ADA)] == [
        "SDM: Scheduled run of “Nightly” failed", "SDM: “Nightly” ran successfully again"]
    assert [m["Subject"] for m in inbox.to("bob@example.com")] == [
        "SDM: “Nightly” ran successfully again"]


def test_manual_failures_are_not_told_warnings_are(app, ada, flows, smtp):
    _, inbox = smtp
    flow_id = flows.create()
    ended_run(app, flow_id, RunStatus.FAILED, trigger=RunTrigger.MANUAL)
    with app.app_context():
        assert scheduler.tick().events == 0
    warned = ended_run(app, flows.create(name="Hourly"), RunStatus.COMPLETED_WITH_WARNINGS)
    with app.app_context():
        assert scheduler.tick().events == 1
    assert inbox.to(ADA)[-1]["Subject"] == ("SDM: Scheduled run of “Hourly” completed with "
                                            "warnings")
    assert f"Run #{warned}" in inbox.to(ADA)[-1].get_content()


def test_webhook_urls_are_checked(app, ada):
    for url, message in [("ftp://x.org/", "starting with https://"),
                         ("http://hooks.example.org/", "Use https://"),
                         ("https://user:pw@hooks.example.org/", "no credentials"),
                         ("https://10.0.0.8/hook", "private"),
                         ("https://169.254.169.254/latest/meta-data", "never connects")]:
        response = ada.post("/notifications/webhooks", data={"url": url, "events": ["run.failed"]})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    none = ada.post("/notifications/webhooks", data={"url": "https://hooks.example.org/"})
    assert "at least one event" in none.get_data(as_text=True)


def test_members_cannot_add_webhooks(app, ada, people, receiver):
    bob = people.join("bob@example.com", "Springfield District")
    assert bob.post("/notifications/webhooks",
                    data={"url": receiver.url, "events": ["run.failed"]}).status_code == 403


def test_an_invitation_is_emailed(app, ada, smtp):
    _, inbox = smtp
    response = ada.post("/orgs/members", data={"email": "new@example.com", "role": "member"})
    assert response.status_code == 303
    page = ada.get("/orgs/members").get_data(as_text=True)
    assert "We emailed the invitation to new@example.com" in page
    [email] = inbox.to("new@example.com")
    body = email.get_content()
    link = re.search(r"(http\S+/invite/\S+)", body).group(1)
    assert link in page  # the same one-time link the admin sees
    with app.app_context():
        delivery_row = db.session.scalar(select(Delivery))
        assert delivery_row.state == DeliveryState.DELIVERED
        assert link.rsplit("/", 1)[1] not in repr(db.session.execute(
            select(Delivery.recipient, Delivery.subject, Delivery.last_error)).all())
