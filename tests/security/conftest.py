"""Fixtures of the security tests: two organizations' staff, signed in directly."""

from __future__ import annotations

import pytest

from tests.connections.conftest import People, create, login, make_people  # noqa: F401
from webapp.extensions import db


@pytest.fixture
def staff(app) -> People:
    """Springfield (admin Ada, member Max) and Shelbyville (admin Olga)."""
    return make_people(app)


@pytest.fixture
def saved(app, staff, login, create) -> int:  # noqa: F811 - the imported fixtures
    """A connection of Springfield, saved by its admin (who stays signed in)."""
    login(staff.admin_id)
    response = create()
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        from webapp.models import Connection

        return db.session.scalar(db.select(Connection.id))
