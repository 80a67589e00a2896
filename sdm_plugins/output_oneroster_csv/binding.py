"""The OneRoster 1.2 CSV binding: file names, column order and how a JSON record fills a row."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

Row = list[str]
Column = tuple[str, Callable[[Mapping[str, Any]], Any]]

# Every data file of the 1.2 binding, in the manifest's order.
MANIFEST_FILES = (
    "academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
    "demographics", "enrollments", "lineItemLearningObjectiveIds", "lineItems",
    "lineItemScoreScales", "orgs", "resources", "resultLearningObjectiveIds", "results",
    "resultScoreScales", "roles", "scoreScales", "userProfiles", "userResources", "users",
)
ROLE_NAMESPACE = uuid.UUID("5f1c2a8e-6d0b-4c1e-9a57-1d3f0e2b7c41")


def _field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda data: data.get(name)


def _ref(name: str) -> Callable[[Mapping[str, Any]], Any]:
    def get(data: Mapping[str, Any]) -> Any:
        value = data.get(name)
        return value.get("sourcedId") if isinstance(value, Mapping) else value
    return get


def _refs(name: str) -> Callable[[Mapping[str, Any]], Any]:
    def get(data: Mapping[str, Any]) -> Any:
        values = data.get(name) or []
        return [v.get("sourcedId") if isinstance(v, Mapping) else v for v in values]
    return get


def _first(*names: str) -> Callable[[Mapping[str, Any]], Any]:
    def get(data: Mapping[str, Any]) -> Any:
        return next((data[n] for n in names if data.get(n) not in (None, "")), None)
    return get


def _user_ids(data: Mapping[str, Any]) -> Any:
    ids = data.get("userIds") or []
    return [f"{{{i.get('type', '')}:{i.get('identifier', '')}}}" for i in ids
            if isinstance(i, Mapping)]


# The columns of each file, in the binding's order; the first three are common to all.
COLUMNS: dict[str, tuple[Column, ...]] = {
    "academicSessions": (
        ("title", _field("title")), ("type", _field("type")),
        ("startDate", _field("startDate")), ("endDate", _field("endDate")),
        ("parentSourcedId", _ref("parent")), ("schoolYear", _field("schoolYear")),
    ),
    "orgs": (
        ("name", _field("name")), ("type", _field("type")),
        ("identifier", _field("identifier")), ("parentSourcedId", _ref("parent")),
    ),
    "courses": (
        ("schoolYearSourcedId", _ref("schoolYear")), ("title", _field("title")),
        ("courseCode", _field("courseCode")), ("grades", _field("grades")),
        ("orgSourcedId", _ref("org")), ("subjects", _field("subjects")),
        ("subjectCodes", _field("subjectCodes")),
    ),
    "classes": (
        ("title", _field("title")), ("grades", _field("grades")),
        ("courseSourcedId", _ref("course")), ("classCode", _field("classCode")),
        ("classType", _field("classType")), ("location", _field("location")),
        ("schoolSourcedId", _ref("school")), ("termSourcedIds", _refs("terms")),
        ("subjects", _field("subjects")), ("subjectCodes", _field("subjectCodes")),
        ("periods", _field("periods")),
    ),
    "users": (
        ("enabledUser", _field("enabledUser")), ("username", _field("username")),
        ("userIds", _user_ids), ("givenName", _field("givenName")),
        ("familyName", _field("familyName")), ("middleName", _field("middleName")),
        ("identifier", _field("identifier")), ("email", _field("email")),
        ("sms", _field("sms")), ("phone", _field("phone")),
        ("agentSourcedIds", _refs("agents")), ("grades", _field("grades")),
        ("password", _field("password")),
        ("userMasterIdentifier", _field("userMasterIdentifier")),
        ("resourceSourcedIds", _refs("resources")),
        ("preferredGivenName", _first("preferredGivenName", "preferredFirstName")),
        ("preferredMiddleName", _field("preferredMiddleName")),
        ("preferredFamilyName", _first("preferredFamilyName", "preferredLastName")),
        ("primaryOrgSourcedId", _ref("primaryOrg")), ("pronouns", _field("pronouns")),
    ),
    "roles": (
        ("userSourcedId", _ref("user")), ("roleType", _field("roleType")),
        ("role", _field("role")), ("beginDate", _field("beginDate")),
        ("endDate", _field("endDate")), ("orgSourcedId", _ref("org")),
        ("userProfileSourcedId", _ref("userProfile")),
    ),
    "enrollments": (
        ("classSourcedId", _ref("class")), ("schoolSourcedId", _ref("school")),
        ("userSourcedId", _ref("user")), ("role", _field("role")),
        ("primary", _field("primary")), ("beginDate", _field("beginDate")),
        ("endDate", _field("endDate")),
    ),
    "demographics": tuple((name, _field(name)) for name in (
        "birthDate", "sex", "americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation",
        "cityOfBirth", "publicSchoolResidenceStatus",
    )),
}

# The columns of each file that name records of a file, as (column, file). A demographics
# row's sourcedId is that of its user.
REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "academicSessions": (("parentSourcedId", "academicSessions"),),
    "orgs": (("parentSourcedId", "orgs"),),
    "courses": (("schoolYearSourcedId", "academicSessions"), ("orgSourcedId", "orgs")),
    "classes": (("courseSourcedId", "courses"), ("schoolSourcedId", "orgs"),
                ("termSourcedIds", "academicSessions")),
    "users": (("agentSourcedIds", "users"), ("primaryOrgSourcedId", "orgs"),
              ("resourceSourcedIds", "resources")),
    "roles": (("userSourcedId", "users"), ("orgSourcedId", "orgs"),
              ("userProfileSourcedId", "userProfiles")),
    "enrollments": (("classSourcedId", "classes"), ("schoolSourcedId", "orgs"),
                    ("userSourcedId", "users")),
    "demographics": (("sourcedId", "users"),),
}
# Reference columns that hold a comma-separated list of sourcedIds.
LISTS = frozenset(("termSourcedIds", "agentSourcedIds", "resourceSourcedIds"))

COMMON = ("sourcedId", "status", "dateLastModified")
GETTERS = {file: tuple(get for _, get in columns) for file, columns in COLUMNS.items()}


def header(file: str) -> Row:
    """Return the header row of a file."""
    return [*COMMON, *(name for name, _ in COLUMNS[file])]


def cell(value: Any) -> str:
    """Render one value: lists comma-separated, booleans lower case, nothing as empty."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is list or kind is tuple:
        return ",".join([cell(v) for v in value if v is not None])
    if isinstance(value, Mapping):
        return str(value.get("sourcedId", ""))
    return str(value)


def row(file: str, sourced_id: str, status: str, modified: str | None,
        data: Mapping[str, Any], *, delta: bool) -> Row:
    """Return one row of a file. Bulk files leave status and dateLastModified blank."""
    if delta:
        line = [sourced_id, status, modified or ""]
    else:
        line = [sourced_id, "", ""]
    line += [cell(get(data)) for get in GETTERS[file]]
    return line


def role_rows(user_id: str, status: str, modified: str | None, data: Mapping[str, Any],
              *, delta: bool) -> Iterator[Row]:
    """Return the roles.csv rows of one user; each role gets a stable sourcedId."""
    for number, role in enumerate(data.get("roles") or []):
        if not isinstance(role, Mapping):
            continue
        org = role.get("org")
        org_id = org.get("sourcedId") if isinstance(org, Mapping) else org
        key = f"{user_id}/{number}/{role.get('role')}/{org_id}"
        sourced_id = str(uuid.uuid5(ROLE_NAMESPACE, key))
        yield row("roles", sourced_id, status, modified,
                  {**role, "user": {"sourcedId": user_id}}, delta=delta)
