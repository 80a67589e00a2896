"""The wizard, step by step through the test client: every step a fragment, Back, resume."""

from __future__ import annotations

from tests.flows.flowkit import draft_id


def start(client) -> int:
    response = client.post("/flows/wizard")
    assert response.status_code == 303
    return draft_id(response)


def hx(client, verb: str, url: str, **kwargs):
    return getattr(client, verb)(url, headers={"HX-Request": "true"}, **kwargs)


def test_test_data_wizard_end_to_end(ada, store):
    draft = start(ada)
    page = ada.get(f"/flows/wizard/{draft}/source")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert 'data-plugin="source-test-data"' in html and "Test data" in html
    assert page.headers["Vary"].count("HX-Request")

    configure = hx(ada, "post", f"/flows/wizard/{draft}/source",
                   data={"plugin": "source-test-data"})
    html = configure.get_data(as_text=True)
    assert configure.status_code == 200 and "<html" not in html
    assert configure.headers["HX-Push-Url"] == f"/flows/wizard/{draft}/configure"
    assert "Number of classes" in html and "Users per class" in html

    checked = hx(ada, "post", f"/flows/wizard/{draft}/configure",
                 data={"classes": "4", "users_per_class": "10", "teachers": "2"})
    html = checked.get_data(as_text=True)
    assert 'data-status="passed"' in html
    options = hx(ada, "post", f"/flows/wizard/{draft}/configure",
                 data={"classes": "4", "users_per_class": "10", "teachers": "2", "next": "1"})
    assert options.headers["HX-Push-Url"] == f"/flows/wizard/{draft}/options"
    html = options.get_data(as_text=True)
    assert html.count('name="entities"') == 5 and html.count("checked") >= 6

    preview = hx(ada, "post", f"/flows/wizard/{draft}/options",
                 data={"entities": ["orgs", "users", "classes", "courses", "enrollments"],
                       "sync": "full"})
    html = preview.get_data(as_text=True)
    assert preview.headers["HX-Push-Url"] == f"/flows/wizard/{draft}/preview"
    assert 'data-entity="classes"' in html and ">4<" in html

    save_step = hx(ada, "post", f"/flows/wizard/{draft}/preview")
    html = save_step.get_data(as_text=True)
    assert "output-oneroster-csv" in html and 'name="name"' in html

    saved = hx(ada, "post", f"/flows/wizard/{draft}/save",
               data={"output": "output-oneroster-csv", "name": "Sample school"})
    assert saved.status_code == 204
    [flow] = store.flows()
    assert saved.headers["HX-Redirect"] == f"/flows/{flow.id}"
    assert flow.name == "Sample school" and flow.mode == "wizard"
    [source, output] = flow.graph["nodes"]
    assert source["plugin"] == "source-test-data"
    assert source["config"]["classes"] == 4 and source["config"]["teachers"] == 2
    assert output == {"id": "output", "kind": "output", "plugin": "output-oneroster-csv",
                      "config": output["config"]}
    page = ada.get(f"/flows/{flow.id}").get_data(as_text=True)
    assert "Sample school" in page and "Run now" in page
