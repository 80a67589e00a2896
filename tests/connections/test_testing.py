"""Test Connection: Testing at once, live polling that stops at the verdict, shared tests,
recovery of lost tests, results kept on the connection, secrets kept out of everything."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import responses
from sqlalchemy import select, text

from tests.connections.scripted_client import DeferredRunner
from tests.connections.sis import BASE, SECRET, TOKEN_URL, FakeSis
from webapp import jobs
from webapp.extensions import db
from webapp.models import AuditEvent, Connection, Job, JobStatus, Status
from webapp.models.common import utcnow
from webapp.plugin_api import Checklist, CheckStep

HX = {"HX-Request": "true"}
FORM = {"name": "", "provider": "custom", "base_url": BASE, "client_id": "sdm-client",
        "client_secret": SECRET, "auth_url": TOKEN_URL, "proxy_country": "",
        "oneroster_version": "1.2", "auth_method": "oauth2_basic", "scopes": ""}


@pytest.fixture
def sis():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeSis(mock)


@pytest.fixture
def deferred(app) -> DeferredRunner:
    runner = DeferredRunner(app.extensions["sdm.jobs"].kinds)
    app.extensions["sdm.jobs"] = runner
    return runner


@pytest.fixture
def connection_id(app, people, login, create) -> int:
    """A saved connection to the fake SIS, created by the admin (who stays signed in)."""
    login(people.admin_id)
    response = create(client_secret=SECRET)
    assert response.status_code == 303
    with app.app_context():
        return db.session.scalar(select(Connection.id))


def _connection(app, connection_id) -> Connection:
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        db.session.expunge(connection)
        return connection


def _checklist(app, connection_id) -> Checklist:
    """Return the checklist of a connection's test, as its job holds it (live or final)."""
    with app.app_context():
        job = db.session.get(Job, db.session.get(Connection, connection_id).test_job_id)
        return Checklist.from_json(job.result or job.progress)


def _root(html: str) -> str:
    """Return the opening tag of a fragment's root element."""
    return re.match(r"\s*(<[^>]+>)", html).group(1)


def _audit(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


# --- Transitions and polling ----------------------------------------------------------

def test_press_shows_testing_at_once_then_polls_until_success(app, client, sis, deferred,
                                                              connection_id):
    response = client.post(f"/connections/{connection_id}/test", headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == f"connection-{connection_id}-test"
    html = response.get_data(as_text=True)
    root = _root(html)
    assert f'id="test-status-{connection_id}"' in root
    assert 'aria-live="polite"' in root
    assert 'hx-trigger="every 1s"' in root and 'hx-target="this"' in root
    assert 'hx-swap="outerHTML"' in root and "hx-get=" in root
    assert ">Testing</span>" in html
    assert _connection(app, connection_id).status == Status.TESTING

    # Polling while nothing changed answers 204 (htmx keeps the region and keeps polling).
    poll = re.search(r'hx-get="([^"]+)"', root).group(1).replace("&amp;", "&")
    assert client.get(poll, headers=HX).status_code == 204
    still = client.get(f"/connections/{connection_id}/test", headers=HX)
    assert still.status_code == 200 and 'hx-trigger="every 1s"' in _root(still.text)

    deferred.run_pending(app)
    final = client.get(poll, headers=HX)
    assert final.status_code == 286
    # The verdict stops the fast poll; the idle region only asks now and then for news.
    assert 'hx-trigger="every 1s"' not in final.text
    assert 'hx-trigger="every 5s"' in _root(final.text)
    idle = re.search(r'hx-get="([^"]+)"', _root(final.text)).group(1).replace("&amp;", "&")
    assert client.get(idle, headers=HX).status_code == 204
    assert ">Success</span>" in final.text
    assert final.text.count('data-state="ok"') >= 8  # URL, proxy, token, five, server
    for label in ("Organizations", "Courses", "Classes", "Users", "Enrollments"):
        assert re.search(rf'data-state="ok">.*?{label}</strong>', final.text, re.S)
    assert "3 records" in final.text and 'aria-live="polite"' in _root(final.text)


def test_result_is_kept_on_the_connection_and_shown_later(app, client, people, sis,
                                                          connection_id):
    client.post(f"/connections/{connection_id}/test", headers=HX)
    connection = _connection(app, connection_id)
    assert connection.status == Status.SUCCESS
    assert connection.last_tested_by_id == people.admin_id
    assert connection.last_tested_at is not None
    assert connection.summary.title == "Passed" and connection.summary.elapsed_ms is not None
    checklist = _checklist(app, connection_id)
    assert checklist.ok and [s.state for s in checklist.steps].count("ok") == 9

    page = client.get(f"/connections/{connection_id}").text
    assert "Token and all five collections readable" in page
    assert "by Ada Admin" in page and "Users</strong>" in page
    listing = client.get("/connections/").text
    assert f'id="connection-badge-{connection_id}"' in listing and ">Success</span>" in listing

    tested = _audit(app, "connection.tested")
    assert len(tested) == 1 and tested[0].details["outcome"] == "success"
    decrypted = _audit(app, "connection.secret_decrypted")
    assert [e.details["reason"] for e in decrypted] == ["connection test"]


def test_without_javascript_the_press_redirects_to_the_connection(app, client, sis,
                                                                  connection_id):
    response = client.post(f"/connections/{connection_id}/test")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/connections/{connection_id}")
    assert client.get(f"/connections/{connection_id}/test").status_code == 302


def test_wrong_secret_is_an_authentication_error_with_advice(app, client, sis, connection_id):
    sis.secret = "the-server-expects-another"
    html = client.post(f"/connections/{connection_id}/test", headers=HX).text
    assert ">Error</span>" in html and "Authentication Failed" in html
    assert "Verify Client ID and Secret are correct" in html
    assert "Check credentials haven&#39;t expired" in html
    assert "Ensure API access is enabled" in html
    assert "at step Token" in html and "401" in html
    assert SECRET not in html and "Traceback" not in html
    assert _connection(app, connection_id).status == Status.ERROR


def test_forbidden_collection_is_an_error_naming_the_scope(app, client, sis, connection_id):
    sis.forbid.add("enrollments")
    html = client.post(f"/connections/{connection_id}/test", headers=HX).text
    assert ">Error</span>" in html and "Access forbidden" in html
    assert "at step Enrollments" in html and "roster.readonly" in html
    assert "Token and all five collections readable" not in html
    assert _connection(app, connection_id).status == Status.ERROR


def test_a_test_always_ends_within_its_budget(app, client, sis, connection_id):
    app.config["TEST_BUDGET_S"] = 0.5
    sis.hang.clear()
    try:
        html = client.post(f"/connections/{connection_id}/test", headers=HX).text
    finally:
        sis.hang.set()
    assert "Connection Timeout" in html and "Verify the Base URL is correct" in html
    assert "Check network allows outbound HTTPS" in html
    assert _connection(app, connection_id).status == Status.ERROR


def test_editing_credentials_after_success_resets_to_configured(app, client, sis,
                                                                connection_id):
    client.post(f"/connections/{connection_id}/test", headers=HX)
    assert _connection(app, connection_id).status == Status.SUCCESS
    response = client.post(f"/connections/{connection_id}",
                           data={**FORM, "name": "Renamed", "client_secret": "",
                                 "client_id": "another-client"})
    assert response.status_code == 303
    connection = _connection(app, connection_id)
    assert connection.status == Status.CONFIGURED and connection.test_summary is None
    html = client.get(f"/connections/{connection_id}").text
    assert ">Configured</span>" in html and "Not tested since" in html


# --- Sharing and recovery -------------------------------------------------------------

def test_two_presses_share_one_test(app, client, people, login, sis, deferred,
                                    connection_id):
    first = client.post(f"/connections/{connection_id}/test", headers=HX)
    other = app.test_client()
    with other.session_transaction() as session:
        session["_user_id"] = str(people.member_id)
        session["_fresh"] = True
    second = other.post(f"/connections/{connection_id}/test", headers=HX)
    job = re.search(r'data-job="([^"]+)"', first.text).group(1)
    assert re.search(r'data-job="([^"]+)"', second.text).group(1) == job
    with app.app_context():
        assert db.session.scalars(select(Job.id).where(Job.kind == "connection.test")).all() \
            == [job]
    deferred.run_pending(app)
    assert _connection(app, connection_id).status == Status.SUCCESS
    assert sis.tokens == 1


def test_simultaneous_presses_share_one_test(app, people, sis, deferred, connection_id):
    barrier = threading.Barrier(4)
    jobs_seen: list[str] = []

    def press() -> None:
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = str(people.admin_id)
            session["_fresh"] = True
        barrier.wait()
        html = client.post(f"/connections/{connection_id}/test", headers=HX).text
        jobs_seen.append(re.search(r'data-job="([^"]+)"', html).group(1))

    threads = [threading.Thread(target=press) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(jobs_seen) == 4 and len(set(jobs_seen)) == 1
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Job.id))) == 1
    assert deferred.pending == jobs_seen[:1]


def _kill(app, connection_id, *, heartbeat_age_s=300, status=JobStatus.RUNNING):
    """Pretend the worker running the connection's test died."""
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        job = db.session.get(Job, connection.test_job_id)
        old = utcnow() - timedelta(seconds=heartbeat_age_s)
        job.status, job.started_at, job.heartbeat_at = status, old, old
        db.session.commit()
        return job.id


def test_a_killed_test_shows_as_error_on_the_next_poll_and_the_sweep_writes_it(
        app, client, sis, deferred, connection_id):
    client.post(f"/connections/{connection_id}/test", headers=HX)
    job_id = _kill(app, connection_id)
    response = client.get(f"/connections/{connection_id}/test", headers=HX)
    assert response.status_code == 286
    assert ">Error</span>" in response.text and "Test interrupted" in response.text
    assert "Run the test again" in response.text
    assert _connection(app, connection_id).status == Status.TESTING  # a poll only reads
    with app.app_context():
        assert [job.id for job in jobs.sweep()] == [job_id]
    assert _connection(app, connection_id).status == Status.ERROR
    with app.app_context():
        assert db.session.get(Job, job_id).status == JobStatus.FAILED
    assert _audit(app, "connection.tested")[-1].details["outcome"] == "interrupted"
    # The worker's result, should it ever arrive, no longer applies.
    deferred.run_pending(app)
    assert _connection(app, connection_id).status == Status.ERROR


def test_the_start_up_sweep_recovers_killed_tests(app, client, sis, deferred, connection_id):
    client.post(f"/connections/{connection_id}/test", headers=HX)
    _kill(app, connection_id)
    with app.app_context():
        assert len(jobs.sweep()) == 1
    connection = _connection(app, connection_id)
    assert connection.status == Status.ERROR
    assert connection.summary.title == "Test interrupted"


def test_a_test_overrunning_its_budget_is_ended(app, client, sis, deferred, connection_id):
    client.post(f"/connections/{connection_id}/test", headers=HX)
    _kill(app, connection_id, heartbeat_age_s=0)
    with app.app_context():
        job = db.session.get(Job, _connection(app, connection_id).test_job_id)
        job.started_at = utcnow() - timedelta(seconds=app.config["TEST_BUDGET_S"] + 60)
        db.session.commit()
    poll = client.get(f"/connections/{connection_id}/test", headers=HX)
    assert poll.status_code == 286 and "Test interrupted" in poll.text
    assert _connection(app, connection_id).status == Status.TESTING  # a poll only reads
    overran = _connection(app, connection_id).test_job_id
    client.post(f"/connections/{connection_id}/test", headers=HX)  # Test again: a new test
    connection = _connection(app, connection_id)
    assert connection.status == Status.TESTING and connection.test_job_id != overran
    with app.app_context():
        assert db.session.get(Job, overran).cancel_requested


def test_a_test_whose_job_vanished_is_recovered(app, client, sis, deferred, connection_id):
    client.post(f"/connections/{connection_id}/test", headers=HX)
    with app.app_context():
        db.session.execute(text("DELETE FROM jobs"))
        db.session.commit()
    badge = client.get(f"/connections/{connection_id}/badge", headers=HX)
    assert badge.status_code == 286 and ">Error</span>" in badge.text


def test_a_killed_test_of_unsaved_values_is_recovered(app, client, people, login, sis,
                                                      deferred):
    login(people.admin_id)
    html = client.post("/connections/test", data=FORM, headers=HX).text
    poll = re.search(r'hx-get="([^"]+)"', _root(html)).group(1).replace("&amp;", "&")
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        old = utcnow() - timedelta(minutes=5)
        job.status, job.started_at, job.heartbeat_at = JobStatus.RUNNING, old, old
        db.session.commit()
    response = client.get(poll, headers=HX)
    assert response.status_code == 286
    assert ">Error</span>" in response.text and "Test interrupted" in response.text


# --- Cancelling -------------------------------------------------------------------------

def test_a_cancelled_test_puts_back_the_verdict_it_would_have_replaced(
        app, client, people, sis, deferred, connection_id):
    client.post(f"/connections/{connection_id}/test", headers=HX)
    deferred.run_pending(app)
    before = _connection(app, connection_id)
    assert before.status == Status.SUCCESS

    running = client.post(f"/connections/{connection_id}/test", headers=HX).text
    assert f'hx-post="/connections/{connection_id}/test/cancel"' in running
    assert ">Cancel test</button>" in running
    cancelling = client.post(f"/connections/{connection_id}/test/cancel", headers=HX)
    assert cancelling.status_code == 200
    assert ">Testing</span>" in cancelling.text and "Cancelling…" in cancelling.text
    assert "Cancel test" not in cancelling.text  # pressed once is enough
    assert 'hx-trigger="every 1s"' in _root(cancelling.text)  # it keeps watching

    deferred.run_pending(app)
    after = _connection(app, connection_id)
    assert after.status == Status.SUCCESS
    assert after.last_tested_at == before.last_tested_at
    assert after.last_tested_by_id == before.last_tested_by_id
    assert after.test_job_id == before.test_job_id  # its checklist is the test's before
    assert after.summary.title == before.summary.title == "Passed"
    assert after.summary.cancelled["by"] == "Ada Admin"
    final = client.get(f"/connections/{connection_id}/test", headers=HX)
    assert final.status_code == 286 and ">Success</span>" in final.text
    assert "A later test was cancelled by Ada Admin" in final.text
    assert "the status and result shown are from the test before it" in final.text
    assert [e.details["outcome"] for e in _audit(app, "connection.tested")] == ["success"]
    cancelled = _audit(app, "connection.test_cancelled")
    assert len(cancelled) == 1 and cancelled[0].actor_id == people.admin_id


def test_a_connection_never_tested_stays_configured_when_its_test_is_cancelled(
        app, client, sis, deferred, connection_id):
    client.post(f"/connections/{connection_id}/test", headers=HX)
    client.post(f"/connections/{connection_id}/test/cancel", headers=HX)
    deferred.run_pending(app)
    assert _connection(app, connection_id).status == Status.CONFIGURED
    html = client.get(f"/connections/{connection_id}").text
    assert ">Configured</span>" in html
    assert "the connection has still not been tested" in html


def test_cancel_stops_a_test_waiting_on_a_silent_server(app, client, sis, deferred,
                                                        connection_id):
    client.post(f"/connections/{connection_id}/test", headers=HX)
    sis.hang.clear()  # the collections do not answer
    worker = threading.Thread(target=deferred.run_pending, args=(app,))
    try:
        worker.start()
        for _ in range(200):  # until the test waits on the collections
            steps = _checklist(app, connection_id).steps
            if any(s.id == "users" and s.state == "running" for s in steps):
                break
            worker.join(0.05)
        assert client.post(f"/connections/{connection_id}/test/cancel",
                           headers=HX).status_code == 200
        # The server holds each request 10 s and the budget is 30 s: only the cancel
        # ends the test sooner.
        worker.join(5)
        assert not worker.is_alive()
    finally:
        sis.hang.set()
        worker.join()
    connection = _connection(app, connection_id)
    assert connection.status == Status.CONFIGURED
    assert connection.summary.cancelled["by"] == "Ada Admin"


def test_cancelling_when_no_test_runs_changes_nothing(app, client, sis, connection_id):
    client.post(f"/connections/{connection_id}/test", headers=HX)  # runs to Success at once
    response = client.post(f"/connections/{connection_id}/test/cancel")
    assert response.status_code == 303
    assert "No test of this connection is running." in client.get(
        response.headers["Location"]).text
    assert _connection(app, connection_id).status == Status.SUCCESS
    assert _audit(app, "connection.test_cancelled") == []


def test_a_test_of_unsaved_values_can_be_cancelled(app, client, people, login, sis, deferred):
    login(people.admin_id)
    html = client.post("/connections/test", data=FORM, headers=HX).text
    with app.app_context():
        job_id = db.session.scalars(select(Job.id)).one()
    assert f'hx-post="/connections/tests/{job_id}/cancel"' in html
    assert 'type="button"' in html[html.index("Cancel test") - 300:html.index("Cancel test")]
    assert "Cancelling…" in client.post(f"/connections/tests/{job_id}/cancel",
                                        headers=HX).text
    deferred.run_pending(app)
    final = client.get(f"/connections/tests/{job_id}", headers=HX)
    assert final.status_code == 286
    assert ">Cancelled</span>" in final.text and "nothing was concluded" in final.text
    assert "· stopped" in final.text and "tested" not in final.text
    assert "Authentication" not in final.text and ">Test again</button>" in final.text
    assert _audit(app, "connection.tested") == []
    assert len(_audit(app, "connection.test_cancelled")) == 1
    with app.app_context():
        assert "secret_encrypted" not in db.session.get(Job, job_id).params


# --- Badges ---------------------------------------------------------------------------

def test_badges_poll_while_testing_and_stop_at_the_verdict(app, client, sis, deferred,
                                                          connection_id):
    idle = client.get("/connections/").text
    badge = re.search(rf'<span id="connection-badge-{connection_id}"[^>]*>', idle).group(0)
    assert "every" not in badge
    assert f'hx-trigger="connection-{connection_id}-test from:body"' in badge

    client.post(f"/connections/{connection_id}/test", headers=HX)
    testing = client.get(f"/connections/{connection_id}/badge", headers=HX)
    assert testing.status_code == 200 and 'hx-trigger="every 1s"' in testing.text
    assert ">Testing</span>" in testing.text

    deferred.run_pending(app)
    done = client.get(f"/connections/{connection_id}/badge", headers=HX)
    assert done.status_code == 286 and "every 1s" not in done.text
    assert ">Success</span>" in done.text
    assert done.headers["HX-Trigger"] == "connection-tested"  # selectors refresh their text


def test_an_idle_badge_outside_the_list_learns_of_verdicts_reached_elsewhere(
        app, client, sis, deferred, connection_id):
    selected = client.get(f"/connections/selected?connection_id={connection_id}",
                          headers=HX).text
    badge = re.search(rf'<span id="connection-badge-{connection_id}"[^>]*>', selected).group(0)
    assert f'hx-trigger="connection-{connection_id}-test from:body, every 5s"' in badge
    poll = re.search(r'hx-get="([^"]+)"', badge).group(1).replace("&amp;", "&")
    assert client.get(poll, headers=HX).status_code == 204  # nothing new: a light answer

    other = app.test_client()  # someone else, elsewhere, tests the connection
    with client.session_transaction() as session, other.session_transaction() as theirs:
        theirs.update(session)
    other.post(f"/connections/{connection_id}/test", headers=HX)
    deferred.run_pending(app)
    news = client.get(poll, headers=HX)
    assert news.status_code == 286 and ">Success</span>" in news.text
    assert news.headers["HX-Trigger"] == "connection-tested"
    assert "every 5s" in news.text  # the new badge keeps asking


def test_a_selector_learns_the_verdicts_of_connections_it_does_not_show_chosen(
        app, client, sis, deferred, connection_id):
    page = client.get("/connections/selector?selector=src&field=connection_id").text
    poller = re.search(r'<span[^>]*data-selector-news[^>]*>', page).group(0)
    assert 'hx-trigger="every 5s"' in poller and "data-poll" in poller
    poll = re.search(r'hx-get="([^"]+)"', poller).group(1).replace("&amp;", "&")
    assert client.get(poll, headers=HX).status_code == 204  # nothing new

    other = app.test_client()
    with client.session_transaction() as session, other.session_transaction() as theirs:
        theirs.update(session)
    other.post(f"/connections/{connection_id}/test", headers=HX)
    deferred.run_pending(app)
    news = client.get(poll + "&connection_id=", headers=HX)
    assert news.status_code == 200
    option = re.search(r"<option[^>]*hx-swap-oob[^>]*>[^<]*</option>", news.text).group(0)
    assert f"#src-select option[value='{connection_id}']" in option
    assert 'data-status="success"' in option and option.endswith(": Success</option>")
    assert " selected" not in option  # not the chosen one
    assert "data-selector-news" in news.text  # the poller carries on with the new signature
    assert client.get(re.search(r'data-selector-news[^>]*hx-get="([^"]+)"', news.text)
                      .group(1).replace("&amp;", "&"), headers=HX).status_code == 204


def test_the_list_offers_test_to_every_member(app, client, people, login, connection_id):
    login(people.member_id)
    html = client.get("/connections/").text
    assert f'action="/connections/{connection_id}/test"' in html
    assert 'hx-swap="none"' in html


def test_a_connection_selector_shows_the_selected_connections_live_badge(app, client, sis,
                                                                        deferred,
                                                                        connection_id):
    selector = client.get("/connections/selector?selector=src-1&field=cid", headers=HX).text
    status = re.search(r'<p class="selector-status"[^>]*>', selector).group(0)
    assert 'hx-get="/connections/selected?field=cid&amp;selector=src-1"' in status
    assert 'hx-include="#src-1-select"' in status
    assert "change from:#src-1-select" in status

    assert client.get("/connections/selected?field=cid&cid=", headers=HX).text.strip() == ""
    assert client.get(f"/connections/selected?field=bad%20name&bad%20name={connection_id}",
                      headers=HX).text.strip() == ""
    assert "connection-tested from:body" in status
    chosen = client.get(f"/connections/selected?field=cid&cid={connection_id}&selector=src-1",
                        headers=HX)
    assert f'id="connection-badge-{connection_id}"' in chosen.text
    assert ">Configured</span>" in chosen.text
    assert f'hx-post="/connections/{connection_id}/test"' in chosen.text
    # The selector's own option is brought up to date out of band.
    option = re.search(r"<option [^>]*>[^<]*</option>", chosen.text).group(0)
    assert f"hx-swap-oob=\"outerHTML:#src-1-select option[value='{connection_id}']\"" in option
    assert option.endswith(": Configured</option>")

    client.post(f"/connections/{connection_id}/test", headers=HX)
    testing = client.get(f"/connections/selected?field=cid&cid={connection_id}", headers=HX)
    assert 'hx-trigger="every 1s"' in testing.text and ">Testing</span>" in testing.text
    assert client.get("/connections/selected?field=cid&cid=99999", headers=HX).status_code \
        == 404


# --- Unsaved values -------------------------------------------------------------------

def test_unsaved_values_are_tested_without_storing_the_secret(app, app_config, client, people,
                                                             login, sis):
    login(people.admin_id)
    response = client.post("/connections/test", data=FORM, headers=HX)
    assert response.status_code == 200
    root = _root(response.text)
    assert 'id="test-status-form"' in root and 'aria-live="polite"' in root
    assert ">Success</span>" in response.text and SECRET not in response.text
    assert "hx-trigger" not in root

    with app.app_context():
        assert db.session.scalar(select(db.func.count(Connection.id))) == 0
        job = db.session.scalars(select(Job)).one()
        assert job.status == JobStatus.SUCCEEDED
        stored = repr((job.params, job.progress, job.result, job.error))
        assert SECRET not in stored and "secret_encrypted" not in job.params
        db.session.remove()
        db.engine.dispose()
    if app_config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        path = app_config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
        for suffix in ("", "-wal"):
            try:
                data = open(path + suffix, "rb").read()
            except FileNotFoundError:
                continue
            assert SECRET.encode() not in data
    tested = _audit(app, "connection.tested")
    assert tested[0].details["saved"] is False and tested[0].details["outcome"] == "success"


def test_the_secret_travels_to_the_worker_encrypted(app, client, people, login, sis, deferred):
    login(people.admin_id)
    html = client.post("/connections/test", data=FORM, headers=HX).text
    assert ">Testing</span>" in html
    poll = re.search(r'hx-get="([^"]+)"', _root(html)).group(1)
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        assert job.params["secret_encrypted"] and SECRET not in repr(job.params)
    deferred.run_pending(app)
    final = client.get(poll.replace("&amp;", "&"), headers=HX)
    assert final.status_code == 286 and ">Success</span>" in final.text
    # The button to test again is back, inside the form.
    assert 'hx-post="/connections/test"' in final.text


def test_editing_with_a_blank_secret_tests_with_the_stored_one(app, client, sis,
                                                               connection_id):
    html = client.post(f"/connections/{connection_id}/test-values",
                       data={**FORM, "client_secret": ""}, headers=HX).text
    assert ">Success</span>" in html
    reasons = [e.details["reason"] for e in _audit(app, "connection.secret_decrypted")]
    assert reasons == ["test of edited, unsaved values"]
    # Unsaved values never change the saved connection's status.
    assert _connection(app, connection_id).status == Status.CONFIGURED


def test_edited_values_are_what_is_tested(app, client, sis, connection_id):
    html = client.post(f"/connections/{connection_id}/test-values",
                       data={**FORM, "client_secret": "a-typed-but-wrong-secret"},
                       headers=HX).text
    assert "Authentication Failed" in html
    assert _connection(app, connection_id).status == Status.CONFIGURED


def test_incomplete_values_say_what_to_fix_and_start_nothing(app, client, people, login):
    login(people.admin_id)
    html = client.post("/connections/test", data={**FORM, "base_url": "not a url",
                                                  "client_secret": ""}, headers=HX).text
    assert "Fix the form first" in html
    assert "Enter the Client Secret." in html
    without_js = client.post("/connections/test", data={**FORM, "client_secret": ""})
    assert without_js.status_code == 422 and "<html" in without_js.text
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Job.id))) == 0


def test_members_cannot_test_edits_of_a_shared_connection(app, client, people, login,
                                                          connection_id):
    login(people.member_id)
    response = client.post(f"/connections/{connection_id}/test-values", data=FORM, headers=HX)
    assert response.status_code == 403


def test_without_javascript_an_unsaved_test_has_a_page(app, client, people, login, sis):
    login(people.admin_id)
    response = client.post("/connections/test", data=FORM)
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "<html" in page.text and ">Success</span>" in page.text


def test_the_form_offers_test_connection(app, client, people, login, connection_id):
    new = client.get("/connections/new").text
    assert 'id="test-status-form"' in new and 'hx-post="/connections/test"' in new
    # The form's first submit button stays Save: Enter in a field never starts a test.
    form = new[new.index('<form id="connection-form"'):]
    first_submit = re.search(r'<button type="submit"[^>]*>\s*(?:<span[^>]*>)?([^<]+)', form)
    assert first_submit.group(1).strip().startswith("Save")
    edit = client.get(f"/connections/{connection_id}/edit").text
    assert f'hx-post="/connections/{connection_id}/test-values"' in edit


# --- Isolation ------------------------------------------------------------------------

def test_other_organizations_get_404_on_every_test_route(app, client, people, login, sis,
                                                         connection_id):
    client.post(f"/connections/{connection_id}/test", headers=HX)
    client.post("/connections/test", data=FORM, headers=HX)
    with app.app_context():
        values_job = db.session.scalars(
            select(Job.id).where(Job.subject_id.is_(None))).one()
    login(people.outsider_id)
    for method, url in (("post", f"/connections/{connection_id}/test"),
                        ("get", f"/connections/{connection_id}/test"),
                        ("get", f"/connections/{connection_id}/badge"),
                        ("post", f"/connections/{connection_id}/test/cancel"),
                        ("post", f"/connections/tests/{values_job}/cancel"),
                        ("post", f"/connections/{connection_id}/test-values"),
                        ("get", f"/connections/tests/{values_job}"),
                        ("get", f"/connections/preflight/{values_job}")):
        response = getattr(client, method)(url, headers=HX, data=FORM)
        assert response.status_code == 404, url


def test_an_empty_form_highlights_the_fields_to_fill_in(app, client, people, login):
    login(people.admin_id)
    empty = {"provider": "custom", "name": "", "base_url": "", "client_id": "",
             "client_secret": ""}
    response = client.post("/connections/test", data=empty, headers=HX)
    html = response.text
    # The whole form comes back in place of itself, each missing field marked for the eye
    # and for screen readers; the test region says where to look, with no empty list.
    assert response.headers["HX-Retarget"] == "#connection-form"
    assert response.headers["HX-Reswap"] == "outerHTML"
    for name in ("base_url", "client_id", "client_secret"):
        assert f'id="connection-form-{name}-error"' in html, name
    assert html.count('aria-invalid="true"') >= 3
    assert "need attention (highlighted); then test again." in html
    assert "These values cannot be tested yet" not in html
    assert "Troubleshooting" not in html
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Job.id))) == 0


def _tested_job(html: str) -> str:
    return re.search(r'name="tested_job" value="([^"]+)"', html).group(1)


def test_saving_the_values_just_tested_keeps_the_verdict(app, client, people, login, sis):
    login(people.admin_id)
    html = client.post("/connections/test", data=FORM, headers=HX).text
    assert ">Success</span>" in html
    saved = client.post("/connections/", data={**FORM, "name": "District SIS",
                                               "tested_job": _tested_job(html)})
    assert saved.status_code == 303
    with app.app_context():
        connection = db.session.scalars(select(Connection)).one()
        assert connection.status == Status.SUCCESS
        assert connection.last_tested_at is not None
        assert connection.summary.before_saving and connection.summary.title == "Passed"
        assert connection.test_job_id == _tested_job(html)  # the checklist stays on its job
    page = client.get(saved.headers["Location"]).text
    assert ">Success</span>" in page and ">Configured</span>" not in page


def test_a_verdict_is_not_kept_for_other_values_or_another_secret(app, client, people, login,
                                                                   sis):
    login(people.admin_id)
    job = _tested_job(client.post("/connections/test", data=FORM, headers=HX).text)
    client.post("/connections/", data={**FORM, "name": "Other secret", "tested_job": job,
                                       "client_secret": "not-the-tested-one"})
    client.post("/connections/", data={**FORM, "name": "Other client", "tested_job": job,
                                       "client_id": "someone-else"})
    with app.app_context():
        statuses = set(db.session.scalars(select(Connection.status)))
    assert statuses == {Status.CONFIGURED}


def test_an_edit_tested_with_the_stored_secret_keeps_its_verdict(app, client, sis,
                                                                 connection_id):
    edited = {**FORM, "name": "Renamed", "client_secret": "", "scopes": "roster-core.readonly"}
    html = client.post(f"/connections/{connection_id}/test-values", data=edited,
                       headers=HX).text
    assert ">Success</span>" in html
    client.post(f"/connections/{connection_id}", data={**edited,
                                                       "tested_job": _tested_job(html)})
    connection = _connection(app, connection_id)
    assert connection.status == Status.SUCCESS and connection.scopes == "roster-core.readonly"


def test_the_list_learns_of_verdicts_reached_elsewhere(app, client, sis, connection_id):
    page = client.get("/connections/").text
    poll = re.search(r'id="connection-list"[^>]*hx-get="([^"]+)"[^>]*hx-trigger="every 5s"',
                     page)
    assert poll, "the list polls itself"
    url = poll.group(1).replace("&amp;", "&")
    assert client.get(url, headers=HX).status_code == 204  # nothing changed: no body
    # Another tab (or person) tests the connection to its verdict.
    client.post(f"/connections/{connection_id}/test", headers=HX)
    changed = client.get(url, headers=HX)
    assert changed.status_code == 200 and 'id="connection-list"' in changed.text
    assert 'data-status="success"' in changed.text
    again = re.search(r'hx-get="([^"]+)"', changed.text).group(1).replace("&amp;", "&")
    assert client.get(again, headers=HX).status_code == 204


def test_a_running_test_shows_the_step_it_waits_on_and_for_how_long(app):
    from webapp.connections.views import TestView

    steps = (CheckStep("base_url", "Base URL", "ok", "Looks right"),
             CheckStep("proxy", "Proxy", "ok", "Direct"),
             CheckStep("token", "Token"), CheckStep("orgs", "Organizations"))
    checklist = Checklist(steps=steps, elapsed_ms=400)
    view = TestView(key="1", state="testing", poll_url="/", checklist=checklist,
                    started=utcnow() - timedelta(seconds=5))
    shown = {s.id: s.state for s in view.shown_steps}
    assert shown == {"base_url": "ok", "proxy": "ok", "token": "running"}
    assert view.waiting_s in (4, 5)
    with app.test_request_context():
        from flask import render_template
        html = render_template("connections/_checklist.html", view=view)
    assert 'data-step="token" data-state="running"' in html
    assert f'data-waited="{view.waiting_s}">{view.waiting_s} s<' in html
    assert f'data-waited="{view.waiting_s}"' in html  # the page's clock counts on from here
    later = TestView(key="1", state="testing", poll_url="/", checklist=checklist,
                     started=utcnow() - timedelta(seconds=7))
    assert later.signature == view.signature  # a tick alone is no change worth an answer
