"""Optional collections (demographics): read when granted, withheld without failing when not."""

from __future__ import annotations

import json

from oneroster.client import OneRosterClient
from tests.source_oneroster.fake_sis import BASE, Collect, respond, rows, serve, settings, token

DEMOGRAPHICS_SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly"
CORE_SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"


def refuse(request):
    body = {"imsx_codeMajor": "failure", "imsx_severity": "error",
            "imsx_description": "The token lacks the demographics scope"}
    return 403, {"Content-Type": "application/json"}, json.dumps(body)


def test_a_refused_optional_collection_is_withheld_not_failed(http):
    token(http)
    serve(http, "users", rows("users", 30))
    respond(http, "demographics", refuse)
    sink = Collect()
    with OneRosterClient(settings()) as client:
        found = client.fetch(("users", "demographics"), sink=sink, optional=("demographics",))
    assert found.ok
    demographics = found.results["demographics"]
    assert demographics.records == 0 and demographics.error is None
    assert demographics.withheld == ("The SIS did not grant demographics: it answered HTTP 403 "
                                     "(The token lacks the demographics scope)")
    assert len(sink.ids("users")) == 30 and found.results["users"].withheld is None


def test_the_same_refusal_fails_a_collection_that_is_not_optional(http):
    token(http)
    respond(http, "demographics", refuse)
    with OneRosterClient(settings()) as client:
        found = client.fetch(("demographics",), sink=Collect())
    result = found.results["demographics"]
    assert not result.ok and result.error.category == "forbidden" and result.withheld is None


def test_a_token_without_the_scope_is_not_used_to_ask(http):
    token(http, scope=CORE_SCOPE)
    serve(http, "orgs", rows("orgs", 3))
    asked = []
    respond(http, "demographics", lambda request: asked.append(request) or refuse(request))
    with OneRosterClient(settings()) as client:
        found = client.fetch(("orgs", "demographics"), sink=Collect(), optional=("demographics",))
    assert found.ok and asked == []
    assert found.results["demographics"].withheld == (
        "The SIS did not grant demographics: the token it issued does not carry the "
        "roster-demographics.readonly scope")
    assert found.results["demographics"].requests == 0


def test_a_granted_optional_collection_is_read_in_full(http):
    token(http, scope=f"{CORE_SCOPE} {DEMOGRAPHICS_SCOPE}")
    people = [{"sourcedId": f"use-{i:05d}", "status": "active", "sex": "female",
               "birthDate": "2010-01-01"} for i in range(250)]
    serve(http, "demographics", people)
    sink = Collect()
    with OneRosterClient(settings()) as client:
        found = client.fetch(("demographics",), sink=sink, optional=("demographics",))
    assert found.ok and found.results["demographics"].withheld is None
    assert len(sink.ids("demographics")) == 250
    assert http.calls[1].request.url.startswith(f"{BASE}/demographics")


def test_refused_credentials_fail_an_optional_collection_too(http):
    token(http, status=401, body={"error": "invalid_client"})
    with OneRosterClient(settings()) as client:
        found = client.fetch(("users", "demographics"), sink=Collect(),
                             optional=("demographics",))
    for result in found.results.values():
        assert not result.ok and result.withheld is None
        assert result.error.category == "authentication_failed"


def test_a_401_everywhere_fails_the_optional_collection_with_the_rest(http):
    """Credentials the collections all refuse are wrong: demographics are not 'not granted'."""
    token(http)

    def refused(request):
        return 401, {"Content-Type": "application/json"}, json.dumps(
            {"imsx_codeMajor": "failure", "imsx_description": "invalid_signature"})

    respond(http, "users", refused)
    respond(http, "demographics", refused)
    with OneRosterClient(settings()) as client:
        found = client.fetch(("users", "demographics"), sink=Collect(),
                             optional=("demographics",))
    demographics = found.results["demographics"]
    assert not demographics.ok and demographics.withheld is None
    assert demographics.error.category == "authentication_failed"
