"""The sandbox's answers validate against the official OneRoster 1.2 OpenAPI definition."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft7Validator
from werkzeug.test import Client

from oneroster.sandbox import SandboxApp
from tests.source_oneroster.test_sandbox import V12, access, get

# The definition lives beside the repository (shared/oneroster/), not in it.
SPEC = (Path(__file__).resolve().parents[3] / "shared" / "oneroster"
        / "onerosterv1p2rostersservice_openapi3_v1p0.json")
SETS = {"orgs": "OrgSetDType", "schools": "OrgSetDType", "courses": "CourseSetDType",
        "classes": "ClassSetDType", "users": "UserSetDType", "students": "UserSetDType",
        "teachers": "UserSetDType", "enrollments": "EnrollmentSetDType",
        "academicSessions": "AcademicSessionSetDType", "terms": "AcademicSessionSetDType",
        "gradingPeriods": "AcademicSessionSetDType", "demographics": "DemographicsSetDType"}
SINGLES = {"orgs": "SingleOrgDType", "courses": "SingleCourseDType",
           "classes": "SingleClassDType", "users": "SingleUserDType",
           "enrollments": "SingleEnrollmentDType",
           "academicSessions": "SingleAcademicSessionDType",
           "demographics": "SingleDemographicsDType"}

pytestmark = pytest.mark.skipif(
    not SPEC.is_file(), reason=f"the official OpenAPI definition is not at {SPEC}")


@cache
def validator(name: str) -> Draft7Validator:
    spec = json.loads(SPEC.read_text())
    return Draft7Validator({"$ref": f"#/components/schemas/{name}",
                            "components": spec["components"]})


@pytest.fixture(scope="module")
def web() -> Client:
    return Client(SandboxApp(users=60))


def problems(name: str, body: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator(name).iter_errors(body)]


@pytest.mark.parametrize("collection", sorted(SETS))
def test_every_collection_validates(web, collection):
    answer = get(web, f"{V12}/{collection}", access(web), limit=10000)
    body = answer.json
    assert answer.status_code == 200 and body[next(iter(body))]
    assert problems(SETS[collection], body) == []


@pytest.mark.parametrize("collection", sorted(SINGLES))
def test_single_objects_validate(web, collection):
    headers = access(web)
    first = get(web, f"{V12}/{collection}", headers, limit=1).json
    sourced_id = first[next(iter(first))][0]["sourcedId"]
    single = get(web, f"{V12}/{collection}/{sourced_id}", headers)
    assert problems(SINGLES[collection], single.json) == []


def test_error_bodies_validate(web):
    for answer in (get(web, f"{V12}/users", {}),
                   get(web, f"{V12}/users", access(web), filter="nope='1'"),
                   get(web, f"{V12}/users/nobody", access(web))):
        assert answer.status_code >= 400
        assert problems("imsx_StatusInfoDType", answer.json) == []


def test_the_validator_catches_a_broken_record():
    broken = {"users": [{"sourcedId": "u", "status": "active", "dateLastModified": "x",
                         "enabledUser": True, "givenName": "A", "familyName": "B",
                         "roles": []}]}
    found = problems("UserSetDType", broken)
    assert any("enabledUser" in p for p in found) and any("roles" in p for p in found)
