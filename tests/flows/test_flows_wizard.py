"""The wizard, step by step through the test client: every step a fragment, Back, resume."""

from __future__ import annotations

import re

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


def configure_connected(client, draft: int, connection_id: int, **extra):
    hx(client, "post", f"/flows/wizard/{draft}/source", data={"plugin": "source-connected"})
    return hx(client, "post", f"/flows/wizard/{draft}/configure",
              data={"connection_id": str(connection_id), **extra})


def test_configure_lists_saved_connections_in_the_selector(ada, store, connected):
    good = store.connection("Springfield SIS", status="success")
    store.connection("Old SIS", status="error")
    draft = start(ada)
    html = hx(ada, "post", f"/flows/wizard/{draft}/source",
              data={"plugin": "source-connected"}).get_data(as_text=True)
    assert 'class="connection-selector"' in html
    assert "Springfield SIS" in html and "Success" in html and "Old SIS" in html
    assert "Create New Connection" in html
    # The embedded create form opens outside the step's form (no nested forms).
    assert 'hx-target="#source-1-connection-new"' in html
    assert html.index("</form>") < html.index('id="source-1-connection-new"')
    assert f'value="{good}"' in html


def test_preflight_passes_and_next_opens_options(ada, store, connected):
    good = store.connection(client_id="good")
    draft = start(ada)
    html = configure_connected(ada, draft, good).get_data(as_text=True)
    assert 'data-status="passed"' in html
    assert 'name="next" value="1" class="next">' in html  # enabled
    nxt = hx(ada, "post", f"/flows/wizard/{draft}/configure",
             data={"connection_id": str(good), "next": "1"})
    assert nxt.headers["HX-Push-Url"].endswith("/options")
    assert store.draft(draft).step == "options"


def test_failing_preflight_blocks_next_and_shows_the_reason(ada, store, connected):
    bad = store.connection("Broken SIS", client_id="bad", status="error")
    draft = start(ada)
    html = configure_connected(ada, draft, bad).get_data(as_text=True)
    assert 'data-status="failed"' in html
    assert "Authentication Failed" in html
    assert 'disabled aria-disabled="true"' in html
    # Pressing Next anyway (or typing the URL) does not get past the step.
    again = hx(ada, "post", f"/flows/wizard/{draft}/configure",
               data={"connection_id": str(bad), "next": "1"})
    assert "HX-Push-Url" not in again.headers
    assert 'data-step="configure"' in again.get_data(as_text=True)
    skipped = ada.get(f"/flows/wizard/{draft}/options")
    assert skipped.status_code == 302 and skipped.headers["Location"].endswith("/configure")
    assert ada.post(f"/flows/wizard/{draft}/options", data={"entities": "orgs"}).status_code == 409


def test_choosing_no_connection_is_an_inline_error(ada, store, connected):
    draft = start(ada)
    hx(ada, "post", f"/flows/wizard/{draft}/source", data={"plugin": "source-connected"})
    response = hx(ada, "post", f"/flows/wizard/{draft}/configure", data={"connection_id": ""})
    assert response.status_code == 422
    assert "Choose a connection" in response.get_data(as_text=True)


def test_preflight_polls_until_it_ends(ada, store, connected):
    good = store.connection()
    draft = start(ada)
    configure_connected(ada, draft, good)
    fragment = hx(ada, "get", f"/flows/drafts/{draft}/preflight/source-1")
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 286
    assert 'id="preflight-source-1"' in html and "hx-trigger" not in html


def test_refresh_and_closed_tab_resume_the_draft(ada, store, connected):
    good = store.connection()
    draft = start(ada)
    configure_connected(ada, draft, good)
    hx(ada, "post", f"/flows/wizard/{draft}/configure",
       data={"connection_id": str(good), "next": "1"})
    # A refresh loads the pushed URL directly: the whole page with the same step.
    page = ada.get(f"/flows/wizard/{draft}/options")
    html = page.get_data(as_text=True)
    assert "<html" in html and 'data-step="options"' in html and 'id="wizard"' in html
    assert "resume the draft from the Flows page" in html and "Discard draft" in html
    # A closed tab: the flows list offers the draft, which opens where it was left.
    listing = ada.get("/flows/").get_data(as_text=True)
    assert f"/flows/wizard/{draft}" in listing and "Unfinished drafts" in listing
    resumed = ada.get(f"/flows/wizard/{draft}")
    assert resumed.headers["Location"].endswith(f"/flows/wizard/{draft}/options")


def test_back_returns_to_the_previous_step_with_answers_kept(ada, store, connected):
    good = store.connection()
    draft = start(ada)
    configure_connected(ada, draft, good)
    hx(ada, "post", f"/flows/wizard/{draft}/configure",
       data={"connection_id": str(good), "next": "1"})
    html = hx(ada, "get", f"/flows/wizard/{draft}/options").get_data(as_text=True)
    assert f'hx-get="/flows/wizard/{draft}/configure"' in html  # the Back button
    back = hx(ada, "get", f"/flows/wizard/{draft}/configure")
    html = back.get_data(as_text=True)
    assert "<html" not in html and 'data-step="configure"' in html
    assert re.search(rf'<option[^>]* value="{good}"[^>]*\bselected', html)
    assert store.draft(draft).step == "options"  # a GET writes nothing; answers move it


def test_options_store_collections_sync_and_schools(ada, store):
    draft = start(ada)
    hx(ada, "post", f"/flows/wizard/{draft}/source", data={"plugin": "source-test-data"})
    hx(ada, "post", f"/flows/wizard/{draft}/configure",
       data={"classes": "2", "users_per_class": "3", "teachers": "1", "next": "1"})
    html = hx(ada, "get", f"/flows/wizard/{draft}/options").get_data(as_text=True)
    assert 'name="schools"' in html  # the sample school is offered as a choice
    none = hx(ada, "post", f"/flows/wizard/{draft}/options", data={"sync": "full"})
    assert none.status_code == 422
    assert "Choose at least one" in none.get_data(as_text=True)
    ok = hx(ada, "post", f"/flows/wizard/{draft}/options",
            data={"entities": ["users", "orgs"], "sync": "delta",
                  "schools_text": "school-a\nschool-b"})
    assert ok.status_code == 200
    node = store.draft(draft).data["graph"]["nodes"][0]
    assert node["config"]["entities"] == ["orgs", "users"]
    assert node["config"]["sync"] == "delta"
    assert node["config"]["schools"] == ["school-a", "school-b"]


def test_duplicate_name_is_an_inline_error(ada, store):
    store.flow({"nodes": []}, name="Nightly")
    draft = start(ada)
    hx(ada, "post", f"/flows/wizard/{draft}/source", data={"plugin": "source-test-data"})
    hx(ada, "post", f"/flows/wizard/{draft}/configure", data={"next": "1"})
    hx(ada, "post", f"/flows/wizard/{draft}/options",
       data={"entities": ["orgs"], "sync": "full"})
    hx(ada, "post", f"/flows/wizard/{draft}/preview")
    response = hx(ada, "post", f"/flows/wizard/{draft}/save",
                  data={"output": "output-oneroster-csv", "name": "nightly"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "already has this name" in html and 'value="nightly"' in html
    assert len(store.flows()) == 1


def test_save_and_run_now_opens_the_run(ada, store):
    draft = start(ada)
    hx(ada, "post", f"/flows/wizard/{draft}/source", data={"plugin": "source-test-data"})
    hx(ada, "post", f"/flows/wizard/{draft}/configure",
       data={"classes": "2", "users_per_class": "3", "teachers": "1", "next": "1"})
    hx(ada, "post", f"/flows/wizard/{draft}/options",
       data={"entities": ["orgs", "courses", "classes", "users", "enrollments"],
             "sync": "full"})
    hx(ada, "post", f"/flows/wizard/{draft}/preview")
    saved = ada.post(f"/flows/wizard/{draft}/save",
                     data={"output": "output-oneroster-csv", "name": "Tiny", "run_now": "1"})
    assert saved.status_code == 303 and "/runs/" in saved.headers["Location"]
    run_page = ada.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Tiny" in run_page
    # The draft is gone once the flow is saved.
    assert ada.get(f"/flows/wizard/{draft}/source").status_code == 404


def test_steps_work_without_javascript(ada, store):
    draft = start(ada)
    chosen = ada.post(f"/flows/wizard/{draft}/source", data={"plugin": "source-test-data"})
    assert chosen.status_code == 303
    assert chosen.headers["Location"].endswith(f"/flows/wizard/{draft}/configure")
    page = ada.get(chosen.headers["Location"]).get_data(as_text=True)
    assert "<html" in page and 'action="/flows/wizard/' in page


def test_edit_a_saved_flow_in_the_wizard(ada, store):
    from tests.flows.flowkit import graph, source

    flow_id = store.flow(graph(source(classes=2, users_per_class=2, teachers=1)), name="Tiny")
    opened = ada.post(f"/flows/{flow_id}/edit", data={"mode": "wizard"})
    draft = draft_id(ada.get(opened.headers["Location"]))
    page = ada.get(f"/flows/wizard/{draft}/configure").get_data(as_text=True)
    assert 'value="2"' in page and 'data-status="passed"' in page
    hx(ada, "post", f"/flows/wizard/{draft}/configure",
       data={"classes": "5", "users_per_class": "2", "teachers": "1"})
    hx(ada, "post", f"/flows/wizard/{draft}/configure",
       data={"classes": "5", "users_per_class": "2", "teachers": "1", "next": "1"})
    # A changed source is previewed again before it is saved; the options are kept.
    assert ada.get(f"/flows/wizard/{draft}/save").headers["Location"].endswith("/preview")
    hx(ada, "post", f"/flows/wizard/{draft}/preview")
    saved = hx(ada, "post", f"/flows/wizard/{draft}/save",
               data={"output": "output-oneroster-csv", "name": "Tiny"})
    assert saved.status_code == 204
    [flow] = store.flows()
    assert flow.id == flow_id and flow.graph["nodes"][0]["config"]["classes"] == 5
    # A flow with two sources is edited in the advanced editor only.
    merged = store.flow(graph(source("source-1"), source("source-2")), name="Merged")
    assert ada.post(f"/flows/{merged}/edit", data={"mode": "wizard"}).status_code == 400
    assert ada.post(f"/flows/{merged}/edit", data={"mode": "nonsense"}).status_code == 400
