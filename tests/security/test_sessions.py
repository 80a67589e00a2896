"""Sign-in and sessions that hold: sign-out ends sessions, lifetimes, throttling, passwords."""

from __future__ import annotations

import time

import pytest

from tests.conftest import PASSWORD
from webapp.auth.passwords import password_problem
from webapp.auth.sessions import SEEN, STARTED


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_cookie_captured_before_sign_out_is_refused_after_it(app, auth, client):
    auth.signup()
    assert client.get("/connections/").status_code == 200
    captured = _cookie(client)
    assert auth.logout().status_code == 303
    thief = app.test_client()
    thief.set_cookie("session", captured)
    response = thief.get("/connections/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_signing_out_ends_the_sessions_on_other_devices_too(app, auth, client):
    auth.signup()
    laptop = app.test_client()
    assert laptop.post("/login", data={"email": "ada@example.com",
                                       "password": PASSWORD}).status_code == 303
    assert laptop.get("/connections/").status_code == 200
    auth.logout()
    assert laptop.get("/connections/").status_code == 302


def test_a_password_change_ends_every_session(app, auth, client):
    auth.signup()
    from webapp.extensions import db
    from webapp.models import User

    with app.app_context():
        user = db.session.scalar(db.select(User))
        user.set_password("an entirely new passphrase here")
        db.session.commit()
    assert client.get("/connections/").status_code == 302


@pytest.mark.parametrize("key, age_s", [(SEEN, 3 * 3600), (STARTED, 13 * 3600)])
def test_idle_and_old_sessions_end(auth, client, key, age_s):
    auth.signup()
    with client.session_transaction() as session:
        session[key] = int(time.time()) - age_s
    response = client.get("/connections/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_the_cookie_is_secure_when_sdm_is_served_over_https(app_config):
    from webapp import create_app

    app = create_app(app_config | {"APP_URL": "https://sdm.example.org/"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    plain = create_app(app_config)
    assert plain.config["SESSION_COOKIE_SECURE"] is False


def test_trusted_proxies_decide_the_client_address(app_config):
    from webapp import create_app

    app = create_app(app_config | {"TRUSTED_PROXIES": 1})
    seen = {}

    @app.get("/whoami-for-test")
    def whoami():
        from flask import request

        seen["addr"], seen["scheme"] = request.remote_addr, request.scheme
        return ""

    app.test_client().get("/whoami-for-test", headers={"X-Forwarded-For": "203.0.113.9",
                                                       "X-Forwarded-Proto": "https"})
    assert seen == {"addr": "203.0.113.9", "scheme": "https"}


def test_the_eleventh_wrong_password_for_an_account_gets_429(auth, client):
    auth.signup()
    auth.logout()
    for _ in range(10):
        assert auth.login(password="not the password at all").status_code == 422
    response = auth.login(password="not the password at all")
    assert response.status_code == 429
    assert "Try again in 15 minutes" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    # Even the right password waits: the account is throttled, not the guess.
    assert auth.login().status_code == 429


def test_failures_per_address_are_limited_across_accounts(auth, client):
    for n in range(50):
        assert auth.login(email=f"nobody{n}@example.com").status_code == 422
    assert auth.login(email="someone-else@example.com").status_code == 429


def test_successful_sign_ins_do_not_count(auth, client):
    auth.signup()
    for _ in range(12):
        auth.logout()
        assert auth.login().status_code == 303


@pytest.mark.parametrize("password", ["12345678", "password", "password1", "qwertyuiop",
                                      "iloveyou1"])
def test_common_passwords_are_refused_at_sign_up(auth, password):
    response = auth.signup(password=password)
    assert response.status_code == 422
    assert "Choose something longer and less common" in response.get_data(as_text=True)


def test_a_password_made_of_the_email_or_name_is_refused():
    assert "email address or name" in password_problem("adalovelace-1815",
                                                       email="adalovelace@example.com")
    assert "email address or name" in password_problem("Springer Ada 99",
                                                       name="Ada Springer")


def test_no_composition_rules_a_long_passphrase_passes():
    assert password_problem("correct horse battery staple") is None
    assert password_problem("lowercase words only make a fine passphrase") is None
