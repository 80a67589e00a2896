"""The sandbox SIS: tokens and scopes, OneRoster queries, profiles, and its generated district."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlencode

import pytest
import requests
from requests_oauthlib import OAuth1
from werkzeug.test import Client

from oneroster.sandbox import PROFILES, SECRET, SandboxApp, security
from oneroster.sandbox.district import District

V12 = "/ims/oneroster/rostering/v1p2"
V11 = "/ims/oneroster/v1p1"
DEMOGRAPHICS_SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly"


@pytest.fixture(scope="module")
def sis() -> SandboxApp:
    return SandboxApp(users=120)


@pytest.fixture(scope="module")
def web(sis) -> Client:
    return Client(sis)


def basic(client_id: str, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def access(web: Client, client_id: str = "demo", **form) -> dict[str, str]:
    answer = web.post("/oauth/token", data={"grant_type": "client_credentials", **form},
                      headers=basic(client_id))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return {"Authorization": f"Bearer {answer.json['access_token']}"}


def get(web: Client, path: str, headers: dict, **query):
    return web.get(path + ("?" + urlencode(query) if query else ""), headers=headers)


def test_tokens_for_basic_or_body_credentials(web):
    by_basic = web.post("/oauth/token", data={"grant_type": "client_credentials"},
                        headers=basic("demo"))
    by_body = web.post("/oauth/token", data={"grant_type": "client_credentials",
                                              "client_id": "latency", "client_secret": SECRET})
    assert by_basic.status_code == by_body.status_code == 200
    assert by_basic.json["token_type"] == "bearer" and by_basic.json["expires_in"] == 3600
    assert DEMOGRAPHICS_SCOPE in by_basic.json["scope"].split()
    assert by_basic.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("form", "headers", "status", "error"), [
    ({"grant_type": "client_credentials"}, basic("demo", "wrong"), 401, "invalid_client"),
    ({"grant_type": "client_credentials"}, basic("nobody"), 401, "invalid_client"),
    ({"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
    ({"grant_type": "password"}, basic("demo"), 400, "unsupported_grant_type"),
    ({"grant_type": "client_credentials", "scope": "https://example.org/scope/everything"},
     basic("demo"), 400, "invalid_scope"),
    ({"grant_type": "client_credentials"}, basic("oauth1"), 400, "unauthorized_client"),
])
def test_refused_token_requests(web, form, headers, status, error):
    answer = web.post("/oauth/token", data=form, headers=headers)
    assert answer.status_code == status and answer.json["error"] == error


def test_scopes_are_enforced(web):
    core = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"
    headers = access(web, scope=core)
    assert get(web, f"{V12}/users", headers).status_code == 200
    refused = get(web, f"{V12}/demographics", headers)
    assert refused.status_code == 403
    assert DEMOGRAPHICS_SCOPE in refused.json["imsx_description"]
    assert refused.json["imsx_CodeMinor"]["imsx_codeMinorField"][0][
        "imsx_codeMinorFieldValue"] == "forbidden"


def test_no_demographics_tokens_lack_the_scope_even_when_asked(web):
    answer = web.post("/oauth/token", data={"grant_type": "client_credentials",
                                             "scope": DEMOGRAPHICS_SCOPE},
                      headers=basic("no-demographics"))
    assert answer.status_code == 200 and answer.json["scope"] == ""
    headers = {"Authorization": f"Bearer {answer.json['access_token']}"}
    assert get(web, f"{V12}/demographics", headers).status_code == 403


def test_no_enrollments_is_refused_enrollments_only_naming_the_scope(web):
    headers = access(web, "no-enrollments")
    assert get(web, f"{V12}/users", headers).status_code == 200
    refused = get(web, f"{V12}/enrollments", headers)
    assert refused.status_code == 403
    assert "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly" in \
        refused.json["imsx_description"]


def test_data_needs_a_valid_unexpired_token(web, monkeypatch):
    assert get(web, f"{V12}/users", {}).status_code == 401
    assert get(web, f"{V12}/users", {"Authorization": "Bearer made-up"}).status_code == 401
    headers = access(web)
    body, _, signature = headers["Authorization"].partition(".")
    forged = {"Authorization": f"{body}.{signature[::-1]}"}
    assert get(web, f"{V12}/users", forged).status_code == 401
    later = time.time() + 3601
    monkeypatch.setattr(security.time, "time", lambda: later)
    expired = get(web, f"{V12}/users", headers)
    assert expired.status_code == 401 and "expired" in expired.json["imsx_description"]


def test_tokens_are_good_in_every_process_that_shares_the_key():
    one, two = SandboxApp(users=10, secret_key="k"), SandboxApp(users=10, secret_key="k")
    other = SandboxApp(users=10, secret_key="another")
    headers = access(Client(one))
    assert get(Client(two), f"{V12}/orgs", headers).status_code == 200
    assert get(Client(other), f"{V12}/orgs", headers).status_code == 401


def test_paging_headers_limit_and_offset(web):
    headers = access(web)
    first = get(web, f"{V12}/users", headers)
    assert len(first.json["users"]) == 100  # the spec's default limit
    answer = get(web, f"{V12}/users", headers, limit=50, offset=100)
    assert answer.headers["X-Total-Count"] == "120"
    assert [u["sourcedId"] for u in answer.json["users"]][:1] == ["usr-0000101"]
    links = answer.headers["Link"]
    assert '<http://localhost/ims/oneroster/rostering/v1p2/users?limit=50&offset=50>; ' \
           'rel="prev"' in links
    assert 'rel="next"' not in links and "offset=100>; rel=\"last\"" in links


def test_profiles_shape_paging_headers(web):
    clamped = get(web, f"{V12}/enrollments", access(web, "clamped"), limit=1000)
    assert len(clamped.json["enrollments"]) == 100 and "X-Total-Count" in clamped.headers
    bare = get(web, f"{V12}/users", access(web, "bare-link"), limit=10)
    assert bare.headers["Link"].startswith("http://localhost/") and "<" not in bare.headers["Link"]
    assert "X-Total-Count" not in bare.headers
    none = get(web, f"{V12}/users", access(web, "no-total"), limit=10)
    assert "Link" not in none.headers and "X-Total-Count" not in none.headers


@pytest.mark.parametrize(("expression", "check"), [
    ("role='teacher'", lambda e: e["role"] == "teacher"),
    ("role!='student'", lambda e: e["role"] != "student"),
    ("dateLastModified>'2025-10-01'", lambda e: e["dateLastModified"] > "2025-10-01"),
    ("dateLastModified>='2025-10-01'", lambda e: e["dateLastModified"] >= "2025-10-01"),
    ("dateLastModified<'2025-09-01'", lambda e: e["dateLastModified"] < "2025-09-01"),
    ("dateLastModified<='2025-09-01'", lambda e: e["dateLastModified"] <= "2025-09-01"),
    ("user.sourcedId~'0000011'", lambda e: "0000011" in e["user"]["sourcedId"]),
    ("role='teacher' AND status='active'",
     lambda e: e["role"] == "teacher" and e["status"] == "active"),
    ("role='teacher' OR status='tobedeleted'",
     lambda e: e["role"] == "teacher" or e["status"] == "tobedeleted"),
])
def test_filters(web, sis, expression, check):
    headers = access(web)
    answer = get(web, f"{V12}/enrollments", headers, filter=expression, limit=10000)
    everything = sis.district.records("enrollments", "http://localhost" + V12)
    expected = [e["sourcedId"] for e in everything if check(e)]
    assert expected and [e["sourcedId"] for e in answer.json["enrollments"]] == expected
    assert answer.headers["X-Total-Count"] == str(len(expected))


@pytest.mark.parametrize(("query", "code"), [
    ({"filter": "shoeSize='9'"}, "invalid_filter_field"),
    ({"filter": "role='a' AND role='b' OR role='c'"}, "invalid_filter_field"),
    ({"filter": "role=teacher"}, "invalid_filter_field"),
    ({"fields": "sourcedId,shoeSize"}, "invalid_selection_field"),
    ({"sort": "shoeSize"}, "invaliddata"),
    ({"limit": "lots"}, "invaliddata"),
])
def test_bad_queries_get_imsx_errors(web, query, code):
    answer = get(web, f"{V12}/enrollments", access(web), **query)
    assert answer.status_code == 400
    assert answer.json["imsx_CodeMinor"]["imsx_codeMinorField"][0][
        "imsx_codeMinorFieldValue"] == code


def test_sort_order_and_fields(web):
    answer = get(web, f"{V12}/users", access(web), sort="familyName", orderBy="desc",
                 fields="sourcedId,familyName", limit=500)
    users = answer.json["users"]
    names = [u["familyName"] for u in users]
    assert names == sorted(names, reverse=True)
    assert all(set(u) == {"sourcedId", "familyName"} for u in users)


def test_single_objects_and_aliases(web):
    headers = access(web)
    user = get(web, f"{V12}/users/usr-0000003", headers)
    assert user.json["user"]["sourcedId"] == "usr-0000003"
    missing = get(web, f"{V12}/users/nobody", headers)
    assert missing.status_code == 404 and missing.json["imsx_description"]
    schools = get(web, f"{V12}/schools", headers).json["orgs"]
    assert schools and {o["type"] for o in schools} == {"school"}
    students = get(web, f"{V12}/students", headers, limit=1000).json["users"]
    assert {u["roles"][0]["role"] for u in students} == {"student"}
    teachers = get(web, f"{V12}/teachers", headers, limit=1000).json["users"]
    assert {u["roles"][0]["role"] for u in teachers} == {"teacher"}
    assert {t["type"] for t in get(web, f"{V12}/terms", headers).json["academicSessions"]} == \
        {"term"}
    principal = get(web, f"{V12}/users/usr-0000002", headers).json["user"]["sourcedId"]
    assert get(web, f"{V12}/students/{principal}", headers).status_code == 404
    assert get(web, f"{V12}/gradebooks", headers).status_code == 404


def test_version_1p1_serves_1p1_records(web):
    users = get(web, f"{V11}/users", access(web), limit=5).json["users"]
    assert all("role" in u and "orgs" in u and "roles" not in u for u in users)
    assert users[0]["enabledUser"] is True
    assert users[0]["orgs"][0]["href"].startswith("http://localhost/ims/oneroster/v1p1/orgs/")


def test_oauth1_signatures_are_checked(web):
    def signed(secret: str, method: str = "HMAC-SHA256", path: str = f"{V11}/users?limit=3"):
        prepared = requests.Request("GET", f"http://localhost{path}").prepare()
        OAuth1("oauth1", client_secret=secret, signature_method=method)(prepared)
        header = prepared.headers["Authorization"]
        return {"Authorization": header.decode() if isinstance(header, bytes) else header}

    good = signed(SECRET)
    assert web.get(f"{V11}/users?limit=3", headers=good).status_code == 200
    assert web.get(f"{V11}/users?limit=3", headers=good).status_code == 401  # replayed nonce
    assert web.get(f"{V11}/users?limit=3", headers=signed(SECRET, "HMAC-SHA1")).status_code == 200
    wrong = web.get(f"{V11}/users?limit=3", headers=signed("not-the-secret"))
    assert wrong.status_code == 401 and "signature" in wrong.json["imsx_description"]
    tampered = web.get(f"{V11}/users?limit=4", headers=signed(SECRET))
    assert tampered.status_code == 401
    assert get(web, f"{V11}/users", access(web)).status_code == 200  # other clients use tokens


def test_outside_the_api_there_is_a_web_page(web):
    home = web.get("/")
    assert home.status_code == 200 and "no-enrollments" in home.get_data(as_text=True)
    assert web.get("/users").headers["Content-Type"].startswith("text/html")
    assert web.get("/users").status_code == 404


def test_the_district_is_deterministic_and_its_references_hold():
    one, two = District(700), District(700)
    assert one.collections["users"].blobs == two.collections["users"].blobs
    base = "https://h"
    ids = {name: {r["sourcedId"] for r in one.records(name, base)}
           for name in ("orgs", "academicSessions", "courses", "classes", "users")}
    assert len(ids["users"]) == 700
    for c in one.records("classes", base):
        assert c["course"]["sourcedId"] in ids["courses"]
        assert c["school"]["sourcedId"] in ids["orgs"]
        assert {t["sourcedId"] for t in c["terms"]} <= ids["academicSessions"]
    for e in one.records("enrollments", base):
        assert e["user"]["sourcedId"] in ids["users"] and e["class"]["sourcedId"] in ids["classes"]
    for u in one.records("users", base):
        assert u["primaryOrg"]["sourcedId"] in ids["orgs"]
    roles = {(e["class"]["sourcedId"], e["role"]) for e in one.records("enrollments", base)}
    assert all((c, "teacher") in roles for c in ids["classes"])
    names = {u["givenName"] for u in one.records("users", base)}
    assert len(names) > 30


def test_the_district_grows_with_its_size():
    counts = District(5000).counts()
    assert counts["users"] == 5000
    assert 3.5 * 5000 < counts["enrollments"] < 4.5 * 5000
    assert counts["orgs"] == 3


@pytest.fixture
def sandbox_on(app_config):
    app_config["SANDBOX"] = True
    app_config["SANDBOX_USERS"] = 40


def test_the_in_app_sandbox_is_served_under_sandbox(sandbox_on, app):
    sandbox = app.extensions["sdm.sandbox"]
    assert sandbox._district is None  # built on first use: app start stays fast
    web = app.test_client()
    answer = web.post("/sandbox/oauth/token", data={"grant_type": "client_credentials"},
                      headers=basic("demo"))
    headers = {"Authorization": f"Bearer {answer.json['access_token']}"}
    users = web.get(f"/sandbox{V12}/users", headers=headers).json["users"]
    assert len(users) == 40
    assert users[0]["primaryOrg"]["href"].startswith(f"http://localhost/sandbox{V12}/orgs/")
    template = app.extensions["sdm.plugins"].providers["sandbox"]
    assert template.prefill("http://localhost/")["base_url"] == \
        f"http://localhost/sandbox{V12}"
    assert (template.client_id, template.demo_secret) == ("demo", SECRET)
    assert SECRET not in " ".join(template.help)
    assert [name for name, _ in template.client_ids] == list(PROFILES)


def test_the_sandbox_template_lists_its_client_ids_in_the_form(sandbox_on, people):
    ada = people.signup("ada@example.com", "Springfield District")
    body = ada.get("/connections/new?provider=sandbox").get_data(as_text=True)
    listed = body.split('<dl class="client-ids">', 1)[1].split("</dl>", 1)[0]
    for profile in PROFILES.values():
        assert f"<dt><code>{profile.name}</code></dt>" in listed
    assert "{app_url}" not in body and SECRET not in body


def test_without_the_sandbox_there_is_no_route_and_no_template(app, client):
    assert client.get(f"/sandbox{V12}/users").status_code == 404
    assert "sandbox" not in app.extensions["sdm.plugins"].providers


def test_imsx_error_bodies_are_json(web):
    answer = get(web, f"{V12}/users", {})
    body = json.loads(answer.get_data())
    assert body["imsx_codeMajor"] == "failure" and body["imsx_severity"] == "error"
    assert answer.headers["Content-Type"].startswith("application/json")
