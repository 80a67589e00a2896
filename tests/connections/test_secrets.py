"""Secrets at rest: encrypted, never rendered, kept on blank edits, readable after rotation."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.connections.conftest import SECRET, VALID
from webapp.crypto import SecretUnreadable
from webapp.extensions import db
from webapp.models import AuditEvent, Connection


def _connection(app, connection_id: int) -> Connection:
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        db.session.expunge(connection)
        return connection


def test_the_database_file_does_not_contain_the_secret(app, saved):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        stored = db.session.execute(db.text("SELECT * FROM connections")).one()
        db.session.remove()
        db.engine.dispose()  # checkpoint the write-ahead log into the file
    assert not any(SECRET in str(value) for value in stored)
    assert any(VALID["client_id"] == value for value in stored)
    if not url.startswith("sqlite:///"):
        return  # the row check above is what PostgreSQL allows; the file check is SQLite's
    files = list(Path(url.removeprefix("sqlite:///")).parent.glob("sdm.db*"))
    raw = b"".join(path.read_bytes() for path in files)
    assert VALID["client_id"].encode() in raw  # the right file: the row is in it
    assert SECRET.encode() not in raw


def test_no_page_or_fragment_contains_the_secret(client, htmx, people, login, saved):
    login(people.admin_id)
    urls = ["/connections/", f"/connections/{saved}", f"/connections/{saved}/edit",
            f"/connections/{saved}/delete", "/connections/new", "/connections/selector",
            "/connections/new?embed=1&selector=pick"]
    responses = [client.get(url) for url in urls] + [htmx.get(url) for url in urls]
    # Refused submits with the secret typed: it must not come back in the re-rendered form.
    responses.append(client.post("/connections/", data={**VALID, "name": ""}))
    responses.append(htmx.post("/connections/", data={**VALID, "name": "", "embed": "1"}))
    responses.append(client.post(f"/connections/{saved}", data={**VALID, "base_url": "ftp://x"}))
    responses.append(client.get("/orgs/audit"))
    for response in responses:
        assert response.status_code < 500
        assert SECRET not in response.get_data(as_text=True), response.request.path


def test_edit_shows_that_a_secret_is_set_and_when(client, people, login, saved):
    login(people.admin_id)
    body = client.get(f"/connections/{saved}/edit").get_data(as_text=True)
    assert "A secret is set (last replaced" in body
    assert "Replace secret" in body
    assert 'name="client_secret" value=""' in body


def test_a_refused_submit_asks_for_the_typed_secret_again(client, people, login):
    login(people.admin_id)
    body = client.post("/connections/", data={**VALID, "name": ""}).get_data(as_text=True)
    assert "enter it again" in body


def test_editing_with_a_blank_secret_keeps_it(app, client, people, login, saved):
    login(people.admin_id)
    before = _connection(app, saved)
    response = client.post(f"/connections/{saved}",
                           data={**VALID, "name": "Renamed", "client_secret": ""})
    assert response.status_code == 303
    after = _connection(app, saved)
    assert after.name == "Renamed"
    assert after.client_secret_encrypted == before.client_secret_encrypted
    assert after.secret_set_at == before.secret_set_at


def test_replacing_the_secret_encrypts_the_new_one(app, client, people, login, saved):
    login(people.admin_id)
    client.post(f"/connections/{saved}", data={**VALID, "client_secret": "the-new-secret"})
    from webapp.connections import services

    with app.test_request_context():
        connection = db.session.get(Connection, saved)
        assert "the-new-secret" not in connection.client_secret_encrypted
        details = services.connection_details(connection, reason="test")
        assert details.client_secret == "the-new-secret"


def test_key_rotation_still_decrypts_old_secrets(app, saved):
    from webapp.connections import services

    old_key = app.config["ENCRYPTION_KEYS"]
    new_key = Fernet.generate_key().decode()
    app.config["ENCRYPTION_KEYS"] = f"{new_key},{old_key}"
    with app.test_request_context():
        connection = db.session.get(Connection, saved)
        assert services.connection_details(connection, reason="rotation").client_secret == SECRET

    app.config["ENCRYPTION_KEYS"] = new_key
    with app.test_request_context():
        connection = db.session.get(Connection, saved)
        with pytest.raises(SecretUnreadable) as raised:
            services.connection_details(connection, reason="without the old key")
        assert SECRET not in str(raised.value)


def test_connection_details_maps_the_connection_and_audits_the_decryption(app, saved):
    from webapp.connections import services

    app.config.update(PROXY_EU="http://127.0.0.1:3128", PAGE_SIZE=250, MAX_IN_FLIGHT=3)
    with app.test_request_context():
        connection = db.session.get(Connection, saved)
        connection.scopes = "scope-a scope-b"
        connection.proxy_country = "EU"
        connection.auth_method = "oauth2_body"
        connection.oneroster_version = "1.1"
        db.session.commit()
        settings = services.connection_details(connection, reason="connection test",
                                            time_budget=12.5)
        events = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "connection.secret_decrypted")).all()
    assert settings.base_url == VALID["base_url"]
    assert settings.client_id == VALID["client_id"]
    assert settings.client_secret == SECRET
    assert settings.auth_url == VALID["auth_url"]
    assert settings.auth_method == "oauth2_body"
    assert settings.version == "1.1"
    assert settings.scopes == ("scope-a", "scope-b")
    assert settings.proxy_country == "EU"
    assert dict(settings.proxies) == {"EU": "http://127.0.0.1:3128"}
    assert (settings.page_size, settings.max_in_flight, settings.time_budget) == (250, 3, 12.5)
    assert SECRET not in repr(settings)
    assert [e.details for e in events] == [{"reason": "connection test"}]
    assert SECRET not in events[0].summary


def test_connection_details_without_auth_url_or_proxy(app, saved):
    from webapp.connections import services

    with app.test_request_context():
        connection = db.session.get(Connection, saved)
        connection.auth_url = None
        connection.provider = "aeries"
        settings = services.connection_details(connection, reason="fetch")
    assert settings.proxy_country is None
    assert dict(settings.proxies) == {}
    assert settings.auth_url == VALID["base_url"] + "/token"  # the Aeries template's default


def test_details_from_values_touch_no_database(app):
    from webapp.connections import services

    values = {"base_url": "https://a.example/ims/oneroster/v1p1", "client_id": "c",
              "auth_url": "", "proxy_country": "", "oneroster_version": "1.1",
              "auth_method": "oauth2_basic", "scopes": "x y", "provider": "custom"}
    with app.test_request_context():
        settings = services.details_from_values(values, secret="typed")
        assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)) == 0
    assert (settings.client_secret, settings.auth_url, settings.scopes) == ("typed", None,
                                                                            ("x", "y"))
