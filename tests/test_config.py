"""Start-up checks, the health check and CSRF protection."""

from __future__ import annotations

import os
import re

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from tests.fixtures.accounts import PASSWORD
from tests.fixtures.mailbox import confirmation_path, mailbox
from webapp import create_app
from webapp.config import ConfigError, finalize, load
from webapp.extensions import db
from webapp.models import Membership, Organization, Role


def _production(tmp_path, **overrides) -> dict:
    config = {**load(environ={}, dotenv_path=None), "SQLALCHEMY_DATABASE_URI": None}
    config.update(overrides)
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'sdm.db'}"
    return config


def test_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SDM_SECRET_KEY"):
        create_app(_production(tmp_path, ENCRYPTION_KEYS=Fernet.generate_key().decode()))
    assert not (tmp_path / "secret_key").exists()


def test_refuses_to_start_without_encryption_keys(tmp_path):
    with pytest.raises(ConfigError, match="SDM_ENCRYPTION_KEYS"):
        create_app(_production(tmp_path, SECRET_KEY="s" * 40))


def test_run_retention_is_a_whole_number_not_below_zero(tmp_path):
    with pytest.raises(ConfigError, match="SDM_RUN_RETENTION must be a whole number"):
        load(environ={"SDM_RUN_RETENTION": "ten"}, dotenv_path=None)
    config = load(environ={"SDM_RUN_RETENTION": "-1", "SDM_DEMO": "1"}, dotenv_path=None)
    with pytest.raises(ConfigError, match="SDM_RUN_RETENTION must be 0 .keep every run. or"):
        finalize(config, str(tmp_path))


def test_decode_processes_default_to_one_per_core_and_refuse_nonsense(tmp_path):
    config = load(environ={"SDM_DEMO": "1"}, dotenv_path=None)
    finalize(config, str(tmp_path))
    assert config["DECODE_PROCESSES"] == (os.cpu_count() or 1)
    config = load(environ={"SDM_DEMO": "1", "SDM_DECODE_PROCESSES": "0"}, dotenv_path=None)
    finalize(config, str(tmp_path))
    assert config["DECODE_PROCESSES"] == 0
    for wrong in ("two", "-1", "65"):
        config = load(environ={"SDM_DEMO": "1", "SDM_DECODE_PROCESSES": wrong},
                      dotenv_path=None)
        with pytest.raises(ConfigError, match="SDM_DECODE_PROCESSES must be a whole number "
                                              "from 0"):
            finalize(config, str(tmp_path))


def test_environment_variables_configure_the_app(tmp_path):
    key = Fernet.generate_key().decode()
    config = load(environ={"SDM_SECRET_KEY": "s" * 40, "SDM_ENCRYPTION_KEYS": key,
                           "SDM_DEMO": "no"}, dotenv_path=None)
    finalize(config, str(tmp_path))
    assert config["SECRET_KEY"] == "s" * 40 and config["ENCRYPTION_KEYS"] == key
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'sdm.db'}"


def test_demo_mode_makes_local_keys_once(tmp_path):
    first = {**load(environ={"SDM_DEMO": "1"}, dotenv_path=None)}
    finalize(first, str(tmp_path))
    second = {**load(environ={"SDM_DEMO": "1"}, dotenv_path=None)}
    finalize(second, str(tmp_path))
    assert first["SECRET_KEY"] and first["SECRET_KEY"] == second["SECRET_KEY"]
    Fernet(first["ENCRYPTION_KEYS"].encode())
    assert first["ENCRYPTION_KEYS"] == second["ENCRYPTION_KEYS"]
    assert first["SANDBOX"] is True


def test_healthz_answers_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "ok", "database": "ok", "jobs": "ok"}


@pytest.fixture
def csrf_app_config(app_config):
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_post_without_csrf_token_is_refused(csrf_app_config, app, client):
    response = client.post("/signup", data={
        "name": "Ada", "email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD,
        "organization": "Springfield District"})
    assert response.status_code == 400
    assert "form token is missing or expired" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Organization)) is None


def test_forms_and_htmx_requests_carry_the_token(csrf_app_config, app, client):
    token = _token(client.get("/signup").get_data(as_text=True))
    with mailbox() as box:
        sent = client.post("/signup", data={
            "csrf_token": token, "name": "Ada", "email": "ada@example.com",
            "password": PASSWORD, "confirm": PASSWORD, "organization": "Springfield District"})
    assert sent.status_code == 200
    link = confirmation_path(box)
    confirm_token = _token(client.get(link).get_data(as_text=True))
    assert client.post(link).status_code == 400  # the confirmation form carries the token too
    response = client.post(link, data={"csrf_token": confirm_token})
    assert response.status_code == 303
    page = client.get("/orgs/members").get_data(as_text=True)
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    membership_id = re.search(r'id="member-(\d+)"', page).group(1)
    url = f"/orgs/members/{membership_id}/role"
    refused = client.post(url, data={"role": "admin"}, headers={"HX-Request": "true"})
    assert refused.status_code == 400
    assert refused.headers["HX-Retarget"] == "#alerts"
    accepted = client.post(url, data={"role": "admin"},
                           headers={"HX-Request": "true", "X-CSRFToken": header_token})
    assert accepted.status_code == 200
    assert f'id="member-{membership_id}"' in accepted.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Membership)).role == Role.ADMIN
