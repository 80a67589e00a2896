"""Fixtures of the flow tests: a signed-in admin, saved connections, a connection-using source."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from tests.flows.flowkit import ConnectedSource
from webapp.crypto import encrypt
from webapp.extensions import db
from webapp.models import Connection, Flow, FlowDraft, User

ORG = "Springfield District"


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config["ARTIFACTS_DIR"] = str(tmp_path / "artifacts")
    return app_config


@pytest.fixture
def ada(people):
    """A signed-in admin of Springfield District."""
    return people.signup("ada@example.com", ORG, name="Ada Admin")


class Store:
    """Rows made directly in the database, and reads of what the app stored."""

    def __init__(self, app, people) -> None:
        self.app = app
        self.people = people

    def connection(self, name: str = "Springfield SIS", *, client_id: str = "good",
                   organization: str = ORG, status: str = "success",
                   base_url: str = "https://sis.example.org/ims/oneroster/rostering/v1p2",
                   secret: str = "secret-value", auth_url: str | None = None) -> int:
        with self.app.app_context():
            connection = Connection(
                organization_id=self.people.org_id(organization), name=name,
                base_url=base_url, auth_url=auth_url,
                client_id=client_id, client_secret_encrypted=encrypt(secret),
                secret_set_at=datetime(2026, 1, 1), status=status)
            db.session.add(connection)
            db.session.commit()
            return connection.id

    def delete_connection(self, connection_id: int) -> None:
        with self.app.app_context():
            db.session.delete(db.session.get(Connection, connection_id))
            db.session.commit()

    def flow(self, graph: dict[str, Any], *, name: str = "Nightly", organization: str = ORG,
             email: str = "ada@example.com", mode: str = "wizard") -> int:
        with self.app.app_context():
            user = db.session.scalar(select(User).where(User.email == email))
            flow = Flow(organization_id=self.people.org_id(organization), name=name,
                        graph=graph, mode=mode, created_by_id=user.id if user else None)
            db.session.add(flow)
            db.session.commit()
            return flow.id

    def flows(self) -> list[Flow]:
        with self.app.app_context():
            rows = list(db.session.scalars(select(Flow).order_by(Flow.id)))
            db.session.expunge_all()
            return rows

    def draft(self, draft_id: int) -> FlowDraft:
        with self.app.app_context():
            draft = db.session.get(FlowDraft, draft_id)
            db.session.expunge_all()
            return draft


@pytest.fixture
def store(app, people) -> Store:
    return Store(app, people)


@pytest.fixture
def connected(app):
    """Install the connection-using source in the app's registry."""
    app.extensions["sdm.plugins"].sources[ConnectedSource.id] = ConnectedSource
    return ConnectedSource


