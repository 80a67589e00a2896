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


def test_run_rows_lose_their_foreign_keys_but_still_go_with_their_run(empty):
    from webapp.models import Flow, Organization, Run, RunRecord, RunReference

    upgrade(revision="0007_run_references")
    org = Organization(name="Org")
    db.session.add(org)
    db.session.flush()
    flow = Flow(organization_id=org.id, name="Nightly", graph={"nodes": []})
    db.session.add(flow)
    db.session.flush()
    runs = [Run(organization_id=org.id, flow_id=flow.id, flow_name="Nightly", graph={},
                sources=[]) for _ in range(2)]
    db.session.add_all(runs)
    db.session.flush()
    for run in runs:
        db.session.add(RunRecord(run_id=run.id, entity="users", sourced_id="u1", data="{}"))
        db.session.add(RunReference(run_id=run.id, entity="users", field="org", target="s1"))
    kept, gone = (run.id for run in runs)
    db.session.commit()
    db.session.remove()  # nothing left open for the migration to wait on

    def count(model, run_id: int) -> int:
        return db.session.scalar(text(f"SELECT count(*) FROM {model.__tablename__} "
                                      f"WHERE run_id = {run_id}"))

    upgrade()  # SQLite rebuilds both tables: their rows stay
    assert not inspect(db.engine).get_foreign_keys("run_records")
    assert not inspect(db.engine).get_foreign_keys("run_references")
    assert count(RunRecord, kept) == count(RunReference, kept) == 1
    db.session.execute(text(f"DELETE FROM runs WHERE id = {gone}"))
    db.session.commit()
    assert count(RunRecord, gone) == count(RunReference, gone) == 0
    assert count(RunRecord, kept) == count(RunReference, kept) == 1

    db.session.commit()
    downgrade(revision="0007_run_references")
    assert inspect(db.engine).get_foreign_keys("run_records")[0]["referred_table"] == "runs"
    db.session.execute(text("DELETE FROM runs"))  # the foreign key cascades again
    db.session.commit()
    assert count(RunRecord, kept) == count(RunReference, kept) == 0
    db.session.remove()
