"""A third-party source installed through the entry-point group gets the live checklist.

The example plugin (tests/plugins/example_source) is made an installed distribution with an
``sdm.plugins`` entry point, loaded by the app's real discovery, chosen in the wizard, and its
check is read back, step by step, from the pre-flight fragment the page polls.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.plugins.example_source.source import ExampleSource

DEADLINE_S = 10.0
ENTRY_POINT = "example_source = tests.plugins.example_source"


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Install the example plugin: a dist-info with its entry point, on sys.path."""
    info = tmp_path / "sdm_example_source-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: sdm-example-source\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[sdm.plugins]\n{ENTRY_POINT}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    ExampleSource.gate.set()


@pytest.fixture
def app_config(app_config, installed):
    app_config["PLUGIN_ENTRY_POINTS"] = True
    app_config["JOBS"] = "thread"  # the check runs beside the polls, as in the app
    return app_config


@pytest.fixture
def ada(people):
    return people.signup("ada@example.com", "Springfield District", name="Ada Admin")


def hx(client, verb: str, url: str, **kwargs):
    return getattr(client, verb)(url, headers={"HX-Request": "true"}, **kwargs)


def wait_for(condition, what: str):
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def states(html: str) -> dict[str, str]:
    """Return each shown checklist step's state, by step id."""
    return dict(re.findall(r'data-step="([^"]+)" data-state="([^"]+)"', html))


def configure(client, account: str) -> tuple[int, str]:
    """Choose the example source in the wizard and submit its settings; return the draft."""
    draft = int(re.search(r"/wizard/(\d+)", client.post("/flows/wizard").headers["Location"])[1])
    form = hx(client, "post", f"/flows/wizard/{draft}/source", data={"plugin": "source-example"})
    assert 'name="account"' in form.get_data(as_text=True)
    configured = hx(client, "post", f"/flows/wizard/{draft}/configure", data={"account": account})
    return draft, configured.get_data(as_text=True)


def test_the_plugin_is_found_through_its_entry_point(app, ada):
    assert app.extensions["sdm.plugins"].sources["source-example"] is ExampleSource
    draft = int(re.search(r"/wizard/(\d+)", ada.post("/flows/wizard").headers["Location"])[1])
    html = ada.get(f"/flows/wizard/{draft}/source").get_data(as_text=True)
    assert 'data-plugin="source-example"' in html and "Example SIS" in html


def test_its_check_steps_appear_live_in_the_polled_checklist(ada):
    ExampleSource.gate.clear()  # the check waits after its first step
    draft, html = configure(ada, "demo")
    assert 'data-status="running"' in html
    url = f"/flows/drafts/{draft}/preflight/source-1"

    def half_done():
        response = hx(ada, "get", url)
        html = response.get_data(as_text=True)
        return response.status_code == 200 and states(html) == {
            "reach": "ok", "sign-in": "running"} and html

    html = wait_for(half_done, "the check to reach its second step")
    assert 'hx-trigger="every 1s"' in html  # the fragment goes on polling
    assert "Reach the example server" in html and "example.invalid answered" in html
    assert "Read the collections" not in html  # not reached yet

    ExampleSource.gate.set()
    final = wait_for(lambda: (r := hx(ada, "get", url)).status_code == 286 and r,
                     "the check to end")
    html = final.get_data(as_text=True)
    assert states(html) == {"reach": "ok", "sign-in": "ok", "collections": "ok"}
    assert 'data-status="passed"' in html and "hx-trigger" not in html
    assert "1 orgs, 3 users" in html


def test_a_failed_step_shows_its_reason_and_ends_the_polling(ada):
    draft, _ = configure(ada, "locked")
    url = f"/flows/drafts/{draft}/preflight/source-1"
    final = wait_for(lambda: (r := hx(ada, "get", url)).status_code == 286 and r,
                     "the check to end")
    html = final.get_data(as_text=True)
    assert states(html) == {"reach": "ok", "sign-in": "failed", "collections": "skipped"}
    assert 'data-status="failed"' in html
    assert "Authentication Failed: The example server refused the account." in html
    assert "Ask the example SIS to unlock the account." in html


def saved_connection(app, people, provider: str, client_id: str) -> int:
    """Save a connection of a provider straight into the database; return its id."""
    from webapp import crypto
    from webapp.extensions import db
    from webapp.models import Connection
    from webapp.models.common import utcnow

    with app.app_context():
        connection = Connection(organization_id=people.org_id("Springfield District"),
                                name="Example", provider=provider,
                                base_url="https://example.invalid/api", client_id=client_id,
                                client_secret_encrypted=crypto.encrypt("s3cret"),
                                secret_set_at=utcnow())
        db.session.add(connection)
        db.session.commit()
        return connection.id


def test_a_connection_of_its_provider_is_tested_by_its_own_source(app, ada, people):
    connection_id = saved_connection(app, people, "example-sis", "demo")
    ExampleSource.gate.clear()
    started = hx(ada, "post", f"/connections/{connection_id}/test")
    assert started.status_code == 200 and "Reach the example server" in started.text
    url = f"/connections/{connection_id}/test"

    def half_done():
        html = hx(ada, "get", url).get_data(as_text=True)
        return states(html) == {"reach": "ok", "sign-in": "running"} and html

    html = wait_for(half_done, "the connection test to reach its second step")
    assert "example.invalid answered" in html and 'hx-trigger="every 1s"' in html

    ExampleSource.gate.set()
    final = wait_for(lambda: (r := hx(ada, "get", url)).status_code == 286 and r,
                     "the connection test to end")
    html = final.get_data(as_text=True)
    assert states(html) == {"reach": "ok", "sign-in": "ok", "collections": "ok"}
    assert ">Success</span>" in html and "1 orgs, 3 users" in html


def test_connections_of_the_host_s_own_providers_stay_with_the_built_in_source(app):
    from tests.plugins.example_source.source import ExampleConnectedSource

    registry = app.extensions["sdm.plugins"]
    assert registry.connection_source("example-sis") is ExampleConnectedSource
    for provider in ("custom", "sandbox", None):
        assert registry.connection_source(provider).id == "source-oneroster"
