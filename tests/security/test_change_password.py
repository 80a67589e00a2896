"""Changing the password: the current one first, the same policy as sign-up, every other
session ended and this one kept, failures throttled like sign-in."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.security.test_control_characters import error_of

NEW = "lantern orchard velvet minnow"


def change(client, current=PASSWORD, new=NEW, confirm=None):
    return client.post("/account/password", data={
        "current": current, "password": new, "confirm": new if confirm is None else confirm})


def test_the_page_needs_a_signed_in_person(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert change(client).status_code == 302


def test_the_user_menu_leads_to_it(auth, client):
    auth.signup()
    page = client.get("/connections/").get_data(as_text=True)
    assert 'href="/account/password">Change password<' in page
    assert client.get("/account/password").status_code == 200


def test_a_change_ends_every_other_session_and_keeps_this_one(app, auth, client):
    auth.signup()
    laptop = app.test_client()
    assert laptop.post("/login", data={"email": "ada@example.com",
                                       "password": PASSWORD}).status_code == 303
    assert laptop.get("/connections/").status_code == 200
    response = change(client)
    assert response.status_code == 303
    landed = client.get(response.headers["Location"], follow_redirects=True)
    assert "Every other session of your account is signed out" in landed.get_data(as_text=True)
    assert client.get("/connections/").status_code == 200  # still signed in here
    assert laptop.get("/connections/").status_code == 302  # signed out there
    other = app.test_client()
    assert other.post("/login", data={"email": "ada@example.com",
                                      "password": PASSWORD}).status_code == 422
    assert other.post("/login", data={"email": "ada@example.com",
                                      "password": NEW}).status_code == 303


def test_a_wrong_current_password_is_said_next_to_it(app, auth, client):
    auth.signup()
    response = change(client, current="not my password at all")
    assert response.status_code == 422
    assert error_of(response.get_data(as_text=True), "current") == \
        "That is not your current password. Try again."
    assert app.test_client().post("/login", data={"email": "ada@example.com",
                                                  "password": PASSWORD}).status_code == 303


@pytest.mark.parametrize("new", ["password", "12345678", "ada@example.com1", "Ada Admin 2024"])
def test_the_new_password_follows_the_sign_up_policy(auth, client, new):
    auth.signup()
    response = change(client, new=new)
    assert response.status_code == 422
    message = error_of(response.get_data(as_text=True), "password")
    assert message and ("easiest" in message or "email address or name" in message
                        or "less common" in message), message


def test_the_two_new_passwords_must_match(auth, client):
    auth.signup()
    response = change(client, confirm=NEW + " x")
    assert response.status_code == 422
    assert error_of(response.get_data(as_text=True), "confirm") == \
        "The two passwords do not match."


def test_the_eleventh_failure_gets_429_with_a_wait(auth, client):
    auth.signup()
    for _ in range(10):
        assert change(client, current="wrong guess number").status_code == 422
    response = change(client, current="wrong guess number")
    assert response.status_code == 429
    assert "Try again in" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert change(client).status_code == 429  # even the right one waits
