"""Setting a schedule on the flow page and in the wizard; the next run in words."""

from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Schedule

HX = {"HX-Request": "true"}


def test_the_flow_page_sets_a_daily_schedule_and_shows_the_next_run(app, ada, flows):
    flow_id = flows.create()
    page = ada.get(f"/flows/{flow_id}").get_data(as_text=True)
    assert "Not scheduled" in page and 'value="Europe/Warsaw"' in page

    saved = ada.post(f"/flows/{flow_id}/schedule", headers=HX,
                     data={"cadence": "daily", "at": "02:00", "timezone": "Europe/Warsaw"})
    html = saved.get_data(as_text=True)
    assert saved.status_code == 200 and "<html" not in html
    assert "Next run " in html and " at 02:00 CE" in html  # CET or CEST, by season
    assert 'id="flow-schedule"' in html and 'aria-live="polite"' in html
    with app.app_context():
        row = db.session.scalar(select(Schedule))
        assert (row.cadence, row.at, row.timezone, row.paused) == (
            "daily", "02:00", "Europe/Warsaw", False)
        assert row.next_run_at is not None

    listing = ada.get("/flows/").get_data(as_text=True)
    assert "Next run " in listing and "Daily at 02:00 (Europe/Warsaw)" in listing


def test_pausing_keeps_the_schedule(app, ada, flows):
    flow_id = flows.create()
    ada.post(f"/flows/{flow_id}/schedule",
             data={"cadence": "every", "every_days": "3", "at": "23:15",
                   "timezone": "America/Chicago"})
    paused = ada.post(f"/flows/{flow_id}/schedule", headers=HX,
                      data={"cadence": "every", "every_days": "3", "at": "23:15",
                            "timezone": "America/Chicago", "paused": "1"})
    html = paused.get_data(as_text=True)
    assert "Paused" in html and "Every 3 days at 23:15 (America/Chicago), paused" in html
    assert "Next run" not in html
    with app.app_context():
        row = db.session.scalar(select(Schedule))
        assert (row.every_days, row.at, row.paused, row.next_run_at) == (3, "23:15", True, None)


def test_bad_schedule_values_are_refused_with_reasons_and_kept(app, ada, flows):
    flow_id = flows.create()
    refused = ada.post(f"/flows/{flow_id}/schedule", headers=HX,
                       data={"cadence": "every", "every_days": "31", "at": "25:00",
                             "timezone": "Mars/Olympus_Mons"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "from 2 to 30" in html and "HH:MM" in html and "not a time zone we know" in html
    assert 'value="31"' in html and 'value="Mars/Olympus_Mons"' in html
    with app.app_context():
        assert db.session.scalar(select(Schedule)) is None
    no_js = ada.post(f"/flows/{flow_id}/schedule", data={"cadence": "weekly"})
    assert no_js.status_code == 303


def test_another_organizations_flow_schedule_is_404(app, ada, flows, people):
    flow_id = flows.create()
    eve = people.signup("eve@example.com", "Shelbyville")
    assert eve.post(f"/flows/{flow_id}/schedule", data={"cadence": "daily"}).status_code == 404


def test_the_wizard_last_step_sets_the_schedule(app, ada):
    from tests.flows.flowkit import draft_id

    draft = draft_id(ada.post("/flows/wizard"))
    ada.post(f"/flows/wizard/{draft}/source", headers=HX, data={"plugin": "source-test-data"})
    ada.post(f"/flows/wizard/{draft}/configure", headers=HX,
             data={"classes": "2", "users_per_class": "3", "teachers": "1", "next": "1"})
    ada.post(f"/flows/wizard/{draft}/options", headers=HX,
             data={"entities": ["orgs"], "sync": "full"})
    last = ada.post(f"/flows/wizard/{draft}/preview", headers=HX).get_data(as_text=True)
    assert 'name="cadence"' in last and 'value="Europe/Warsaw"' in last

    refused = ada.post(f"/flows/wizard/{draft}/save", headers=HX,
                       data={"output": "output-oneroster-csv", "name": "Nightly",
                             "cadence": "every", "every_days": "1", "at": "03:30",
                             "timezone": "Europe/Warsaw"})
    assert refused.status_code == 422 and "from 2 to 30" in refused.get_data(as_text=True)
    saved = ada.post(f"/flows/wizard/{draft}/save", headers=HX,
                     data={"output": "output-oneroster-csv", "name": "Nightly",
                           "cadence": "every", "every_days": "2", "at": "03:30",
                           "timezone": "Europe/Warsaw"})
    assert saved.status_code == 204
    page = ada.get(saved.headers["HX-Redirect"]).get_data(as_text=True)
    assert "Every 2 days at 03:30 (Europe/Warsaw)" in page and "Next run " in page
