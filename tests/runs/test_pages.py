"""Run pages: isolation between organizations, history, the data browser, the preview."""

from __future__ import annotations

import pytest

from sdm_plugins.source_test_data.school import SampleSchool
from tests.runs.conftest import graph, source
from tests.runs.test_run_test_data import run_id_of
from webapp.runs import services


@pytest.fixture
def ada_run(ada, flows) -> tuple[int, int]:
    flow_id = flows.create(graph(source(classes=3, users_per_class=60, teachers=2)))
    return flow_id, run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))


def test_another_organization_gets_404_everywhere(ada_run, people):
    flow_id, run_id = ada_run
    bob = people.signup("bob@example.com", "Shelbyville Schools")
    for method, url in [
        ("post", f"/runs/flows/{flow_id}/start"), ("get", f"/runs/flows/{flow_id}/history"),
        ("get", f"/runs/{run_id}"), ("get", f"/runs/{run_id}/progress"),
        ("post", f"/runs/{run_id}/cancel"), ("post", f"/runs/{run_id}/retry"),
        ("get", f"/runs/{run_id}/data"), ("get", f"/runs/{run_id}/data?entity=users"),
        ("get", f"/runs/{run_id}/download"), ("post", f"/runs/{run_id}/delete"),
    ]:
        response = getattr(bob, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)
        assert "td-student" not in response.get_data(as_text=True)


def test_signed_out_people_are_sent_to_sign_in(client, ada_run):
    _, run_id = ada_run
    response = client.get(f"/runs/{run_id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_history_lists_runs_with_counts_status_and_who(ada, ada_run):
    flow_id, run_id = ada_run
    html = ada.get(f"/runs/flows/{flow_id}/history", headers={"HX-Request": "true"})
    text = html.get_data(as_text=True)
    assert html.status_code == 200
    assert f"Run {run_id}" in text and "Completed" in text and "Ada Admin" in text
    assert f"{sum(SampleSchool(3, 60, 2).totals().values()):,}" in text
    assert "hx-trigger" not in text  # nothing is running: no polling


def test_data_browser_pages_and_searches(ada, ada_run):
    _, run_id = ada_run
    page = ada.get(f"/runs/{run_id}/data?entity=users")
    html = page.get_data(as_text=True)
    users = SampleSchool(3, 60, 2).totals()["users"]
    assert page.status_code == 200 and f"{users:,} users" in html
    assert "page 1 of 2" in html and "td-student-00001" in html

    second = ada.get(f"/runs/{run_id}/data?entity=users&page=2", headers={"HX-Request": "true"})
    fragment = second.get_data(as_text=True)
    assert "page 2 of 2" in fragment and "<html" not in fragment
    assert second.headers.get("Vary") and "HX-Request" in second.headers["Vary"]

    by_id = ada.get(f"/runs/{run_id}/data?entity=users&q=td-teacher-0002").get_data(as_text=True)
    assert "1 user matching" in by_id and "td-teacher-0002" in by_id

    email = next(r for r in SampleSchool(3, 60, 2).records("users")
                 if r.sourced_id == "td-student-00007").data["email"]
    by_text = ada.get(f"/runs/{run_id}/data?entity=users&q={email}").get_data(as_text=True)
    assert "td-student-00007" in by_text and "1 user matching" in by_text

    none = ada.get(f"/runs/{run_id}/data?entity=users&q=%25").get_data(as_text=True)
    assert "0 users matching" in none  # % is searched literally, not as a wildcard

    students = sum(1 for r in SampleSchool(3, 60, 2).records("users")
                   if r.sourced_id.startswith("td-student"))
    many = ada.get(f"/runs/{run_id}/data?entity=users&q=td-student").get_data(as_text=True)
    assert f"{students} users matching" in many and "page 1 of 2" in many

    past = ada.get(f"/runs/{run_id}/data?entity=users&page=99").get_data(as_text=True)
    assert "page 2 of 2" in past and "td-student" in past  # an old link shows the last page


def test_data_browser_refuses_unknown_collections(ada, ada_run):
    _, run_id = ada_run
    assert ada.get(f"/runs/{run_id}/data?entity=secrets").status_code == 404


def test_preview_of_test_data(app, ada):
    node = source(classes=12, users_per_class=20, teachers=4)
    with app.app_context():
        result = services.preview([node], organization_id=1, limit=3)
    assert result.ok and not result.warnings
    counts = {c.entity: c.total for c in result.collections}
    assert counts == SampleSchool(12, 20, 4).totals()
    users = next(c for c in result.collections if c.entity == "users")
    assert len(users.rows) == 3 and users.headers[0] == "Given name"


def test_preview_names_an_invalid_configuration(app, ada):
    with app.app_context():
        result = services.preview([source(classes="many")], organization_id=1)
    assert not result.ok
    assert "whole number" in result.warnings[0]
