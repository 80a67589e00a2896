"""The htmx answers in one place, and the 500 handler that rolls the session back."""

from __future__ import annotations

import pytest

from tests.runs.conftest import ada, flows, graph, source  # noqa: F401 - fixtures
from webapp import htmx
from webapp.extensions import db
from webapp.models import User

HX = {"HX-Request": "true"}


def test_go_redirects_htmx_with_one_status_and_others_with_303(app):
    with app.test_request_context(headers=HX):
        assert htmx.go("/next") == ("", htmx.REDIRECT, {"HX-Redirect": "/next"})
    with app.test_request_context():
        response = htmx.go("/next")
        assert response.status_code == 303 and response.location == "/next"


def test_a_final_poll_answer_stops_polling_only_for_htmx(app):
    with app.test_request_context(headers=HX):
        assert htmx.poll_answer("<p>", final=True)[1] == htmx.STOP_POLLING == 286
        assert htmx.poll_answer("<p>", final=False)[1] == 200
    with app.test_request_context():
        assert htmx.poll_answer("<p>", final=True)[1] == 200


@pytest.fixture
def failing_route(app):
    """A page whose database work fails mid-transaction, added before any request."""

    def fails():
        db.session.add(User(email="ada@example.com", name="Twin", password_hash="x"))
        db.session.flush()  # the address is taken: IntegrityError, the session needs a rollback
        return "unreachable"

    app.add_url_rule("/test-only/fails", "fails", fails)
    return "/test-only/fails"


def test_the_500_page_renders_after_a_failed_transaction(app, failing_route, ada):  # noqa: F811
    app.testing = False  # the real handler, not the test mode's re-raise
    page = ada.get(failing_route)
    assert page.status_code == 500 and "Something went wrong on our side" in page.text
    assert "Ada Admin" in page.text  # the page around it still read the database
    alert = ada.get(failing_route, headers=HX)
    assert alert.status_code == 500 and alert.headers["HX-Retarget"] == htmx.ALERTS


def test_a_refused_run_is_answered_by_the_blueprints_handler(app, ada, flows):  # noqa: F811
    flow_id = flows.create(graph(source(classes=1, users_per_class=2, teachers=1)))
    run = ada.post(f"/runs/flows/{flow_id}/start")
    assert run.status_code == 303
    run_id = int(run.headers["Location"].rsplit("/", 1)[1])
    retry = ada.post(f"/runs/{run_id}/retry", headers=HX)  # nothing to retry: refused
    assert retry.status_code == 409 and retry.headers["HX-Retarget"] == htmx.ALERTS
    plain = ada.post(f"/runs/{run_id}/retry")
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/runs/{run_id}")
