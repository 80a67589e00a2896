"""The migrations build the whole schema from an empty database."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from webapp.extensions import db


def _empty_database() -> None:
    db.drop_all()
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def empty(app):
    """An app context over a database with no tables at all, left empty afterwards."""
    with app.app_context():
        _empty_database()
        assert inspect(db.engine).get_table_names() == []
        yield
        _empty_database()


def test_upgrade_from_empty_database_matches_the_models(empty):
    upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []
    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "organizations", "memberships", "connections", "jobs", "flows",
            "runs", "run_records"} <= tables


def test_downgrade_to_base_removes_everything(empty):
    upgrade()
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
