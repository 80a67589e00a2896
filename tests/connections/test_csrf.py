"""CSRF: state-changing requests need the token, as a form field or an htmx header."""

from __future__ import annotations

import re

import pytest

from tests.connections.conftest import VALID
from webapp.extensions import db
from webapp.models import Connection


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Connection))


def test_a_post_without_the_token_is_refused(app, client, people, login):
    login(people.admin_id)
    response = client.post("/connections/", data=VALID)
    assert response.status_code == 400
    assert _count(app) == 0


def test_the_form_field_and_the_htmx_header_both_carry_the_token(app, client, people, login):
    login(people.admin_id)
    page = client.get("/connections/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert f'"X-CSRFToken": "{token}"' in page  # base.html hands it to every htmx request
    assert client.post("/connections/", data={**VALID, "csrf_token": token}).status_code == 303
    response = client.post("/connections/", data={**VALID, "name": "Via htmx", "embed": "1"},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 201
    assert _count(app) == 2
