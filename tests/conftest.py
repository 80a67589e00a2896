"""Fixtures in the manner of flaskr: app, client, runner, auth, htmx."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from tests.fixtures.databases import throwaway_database
from tests.fixtures.egress import suite_resolver
from tests.fixtures.mailbox import confirmation_path, mailbox
from webapp import create_app
from webapp.extensions import db

pytest_plugins = ["tests.fixtures.accounts", "tests.fixtures.sandbox"]

TEST_KEY = Fernet.generate_key().decode()
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str | None]:
    """A PostgreSQL database of the suite's own when SDM_TEST_DATABASE_URL is set."""
    server = os.environ.get("SDM_TEST_DATABASE_URL")
    if not server:
        yield None
        return
    with throwaway_database(server, "sdm_test") as url:
        yield url


@pytest.fixture
def app_config(tmp_path, database_url) -> dict:
    """The configuration every test app starts from; tests may change it before `app`."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "ENCRYPTION_KEYS": TEST_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{tmp_path / 'sdm.db'}",
        "JOBS": "sync",
        "WTF_CSRF_ENABLED": False,
        "SANDBOX": False,
        "PLUGIN_ENTRY_POINTS": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast in tests; the app uses scrypt
        "EGRESS_RESOLVER": suite_resolver,  # made-up host names never wait on real DNS
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        app.extensions["sdm.jobs"].shutdown()
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class HtmxClient:
    """A test client whose requests come from htmx."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, verb):
        method = getattr(self._client, verb)

        def call(*args, headers=None, **kwargs):
            return method(*args, headers={"HX-Request": "true", **(headers or {})}, **kwargs)

        return call


@pytest.fixture
def htmx(client):
    return HtmxClient(client)


class AuthActions:
    """Sign up, sign in and sign out through the real routes."""

    def __init__(self, client):
        self._client = client

    def signup(self, email="ada@example.com", password=PASSWORD, name="Ada Admin",
               organization="Springfield District"):
        """Sign up and open the emailed confirmation link: the account's first answer (303),
        or the sign-up page's answer when it sent no link (refused, or the email is taken)."""
        with mailbox() as box:
            response = self._client.post("/signup", data={
                "name": name, "email": email, "password": password,
                "confirm": password, "organization": organization,
            })
        if response.status_code != 200 or not box.links:
            return response
        return self._client.post(confirmation_path(box))

    def login(self, email="ada@example.com", password=PASSWORD):
        return self._client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)
