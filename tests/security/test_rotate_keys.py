"""`flask sdm rotate-keys`: every stored secret re-encrypted so an old key can be dropped."""

from __future__ import annotations

from cryptography.fernet import Fernet

from tests.connections.conftest import SECRET
from webapp import crypto
from webapp.extensions import db
from webapp.models import Connection, Job


def _secrets(app) -> list[str]:
    with app.app_context():
        return [crypto.decrypt(c.client_secret_encrypted)
                for c in db.session.scalars(db.select(Connection))]


def test_rotation_lets_the_old_key_go(app, runner, saved):
    old = app.config["ENCRYPTION_KEYS"]
    new = Fernet.generate_key().decode()
    with app.app_context():
        org_id = db.session.get(Connection, saved).organization_id
        db.session.add(Job(id="pending-test", kind="connection_test", organization_id=org_id,
                           params={"secret_encrypted": crypto.encrypt("typed-secret")}))
        db.session.commit()
    app.config["ENCRYPTION_KEYS"] = f"{new},{old}"
    result = runner.invoke(args=["sdm", "rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 connection secret and 1 pending test secret" in result.output
    app.config["ENCRYPTION_KEYS"] = new  # the old key is dropped
    assert _secrets(app) == [SECRET]
    with app.app_context():
        job = db.session.get(Job, "pending-test")
        assert crypto.decrypt(job.params["secret_encrypted"]) == "typed-secret"


def test_a_secret_no_key_opens_is_named_and_left_alone(app, runner, saved):
    with app.app_context():
        connection = db.session.get(Connection, saved)
        stranger = Fernet(Fernet.generate_key()).encrypt(b"lost").decode()
        connection.client_secret_encrypted = stranger
        db.session.commit()
    result = runner.invoke(args=["sdm", "rotate-keys"])
    assert result.exit_code != 0
    assert f"connection {saved}" in result.output
    with app.app_context():
        assert db.session.get(Connection, saved).client_secret_encrypted == stranger
