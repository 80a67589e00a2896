"""Browser tests: the real app on a loopback port, driven by Debian's Chromium through Playwright.

Without Chromium at /usr/bin/chromium the tests are skipped with a message saying so, unless
SDM_REQUIRE_E2E=1 (CI), where a missing browser fails the run instead.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from werkzeug.serving import make_server

from tests.fixtures.databases import own_database
from tests.fixtures.mailbox import confirmation_path, mailbox
from webapp import create_app
from webapp.extensions import db

CHROMIUM = Path(os.environ.get("SDM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
BUDGET_S = 4.0  # the connection-test time budget of the browser tests' app
PASSWORD = "correct horse battery staple"
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
_people = itertools.count(1)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Return Chromium's path; skip (or fail under SDM_REQUIRE_E2E=1) when it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = (f"Browser tests need Chromium at {CHROMIUM} (Debian package 'chromium': "
               "apt-get install chromium).")
    if os.environ.get("SDM_REQUIRE_E2E") == "1":
        pytest.fail(message + " SDM_REQUIRE_E2E=1 requires them to run.", pytrace=False)
    pytest.skip(message + " Skipping the browser tests.")


class LiveServer:
    """The app served over HTTP on 127.0.0.1 from a background thread."""

    def __init__(self, app, url: str) -> None:
        self.app = app
        self.url = url

    @property
    def sandbox(self):
        return self.app.extensions["sdm.sandbox"]


@pytest.fixture(scope="session")
def live_database(tmp_path_factory) -> Iterator[str]:
    """The live app's own database: a SQLite file, or with SDM_TEST_DATABASE_URL a PostgreSQL
    database of its own (the other tests create and drop their tables in theirs)."""
    with own_database(os.environ.get("SDM_TEST_DATABASE_URL"), "sdm_e2e",
                      tmp_path_factory.mktemp("e2e") / "sdm.db") as url:
        yield url


@pytest.fixture(scope="session")
def live_server(live_database, chromium_path) -> Iterator[LiveServer]:
    """Start the real app: thread jobs, the sandbox SIS, CSRF on, a database of its own."""
    app = create_app({
        "SECRET_KEY": "e2e-secret-key",
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SQLALCHEMY_DATABASE_URI": live_database,
        "JOBS": "thread",
        "JOB_WORKERS": 4,
        "SANDBOX": True,
        "SANDBOX_USERS": 300,
        "ALLOW_LOOPBACK": True,  # the sandbox SIS answers on this machine
        "WTF_CSRF_ENABLED": True,
        "TEST_BUDGET_S": BUDGET_S,
        "PLUGIN_ENTRY_POINTS": False,
        "LOG_LEVEL": "WARNING",
    })
    with app.app_context():
        db.create_all()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="e2e-server")
    thread.start()
    live = LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    assert live.sandbox.district is not None  # generated now, not inside a test's budget
    yield live
    server.shutdown()
    scheduler = app.extensions.get("sdm.scheduler")
    if scheduler is not None:
        scheduler.set()  # stop the embedded scheduler before the database goes
    with app.app_context():
        app.extensions["sdm.jobs"].shutdown()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser(chromium_path) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path),
                                             args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def watch_policy(page) -> list[str]:
    """Collect what the page reports against SDM's Content-Security-Policy, and its errors.

    Every browser test runs under the policy (no bypass): waits use locators and `expect`,
    never `wait_for_function`, whose predicates need eval.
    """
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: violations.append(str(error)))
    page.violations = violations
    return violations


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A desktop page under SDM's Content-Security-Policy; a violation fails the test."""
    context = browser.new_context(base_url=live_server.url,
                                  viewport={"width": 1200, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    violations = watch_policy(page)
    yield page
    context.close()
    assert violations == [], violations


@pytest.fixture
def strict_page(page) -> Iterator:
    """The same page: every browser page runs under the policy."""
    return page


@pytest.fixture
def phone(browser, live_server) -> Iterator:
    """A page in a phone-sized window (390×844, touch), as a person on the move sees it."""
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, has_touch=True,
                                  is_mobile=True, device_scale_factor=2)
    context.set_default_timeout(10_000)
    page = context.new_page()
    violations = watch_policy(page)
    yield page
    context.close()
    assert violations == [], violations


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def signed_in(page):
    """Sign up a new person (and organization) through the pages; return the page."""
    return sign_up(page)


def sign_up(page):
    """Sign up a new person (and organization) through the pages; return the page."""
    n = next(_people)
    page.goto("/signup")
    page.fill("#name", f"Ada Admin {n}")
    page.fill("#email", f"ada{n}-{os.getpid()}@example.com")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.fill("#organization", f"Springfield District {n}")
    return finish_sign_up(page)


def finish_sign_up(page, submit: str = "button[type=submit]"):
    """Submit the sign-up form, open the link the email would carry, set the account up."""
    with mailbox() as box:
        page.click(submit)
        page.wait_for_selector("[data-testid=signup-sent]")
    page.goto(confirmation_path(box))
    page.click("button:has-text('Create my account')")
    page.wait_for_url("**/connections/**")
    return page


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Where scenarios save pictures: docs/screenshots with SDM_SCREENSHOTS=1, else a temp dir.

    Refreshing the committed pictures is a deliberate act, so a plain test run leaves the
    working tree clean.
    """
    if os.environ.get("SDM_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path
