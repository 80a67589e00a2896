"""The migrations build the whole schema from an empty database."""

from __future__ import annotations

import json

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


def test_a_stored_checklist_becomes_the_connection_s_brief_verdict(empty):
    upgrade(revision="0005_session_generation")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO organizations (id, name, created_at, updated_at) "
                          "VALUES (1, 'Org', '2026-01-01', '2026-01-01')"))
        conn.execute(text(
            "INSERT INTO connections (id, organization_id, name, provider, base_url, client_id,"
            " client_secret_encrypted, secret_set_at, oneroster_version, auth_method,"
            " signature_method, scopes, status, last_test, created_at, updated_at) VALUES"
            " (1, 1, 'SIS', 'custom', 'https://sis.test/', 'id', 'x', '2026-01-01', '1.2',"
            " 'oauth2_basic', 'HMAC-SHA256', '', 'error', :last_test, '2026-01-01',"
            " '2026-01-01')"),
            {"last_test": '{"state": "error", "steps": [{"id": "token"}], "elapsed_ms": 80,'
                          ' "error": {"title": "Authentication Failed", "step": "Token"}}'})
    upgrade()
    with db.engine.connect() as conn:
        summary = conn.execute(text("SELECT test_summary FROM connections")).scalar_one()
    summary = json.loads(summary) if isinstance(summary, str) else summary  # SQLite: text
    assert summary["title"] == "Authentication Failed" and summary["step"] == "Token"
    assert summary["elapsed_ms"] == 80 and "steps" not in summary
    assert "last_test" not in {c["name"] for c in inspect(db.engine).get_columns("connections")}
    downgrade(revision="0005_session_generation")
    with db.engine.connect() as conn:
        last_test = conn.execute(text("SELECT last_test FROM connections")).scalar_one()
    last_test = json.loads(last_test) if isinstance(last_test, str) else last_test
    assert last_test["state"] == "error" and last_test["error"]["title"] == "Authentication Failed"
