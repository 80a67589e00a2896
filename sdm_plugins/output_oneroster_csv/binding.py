"""The OneRoster 1.2 CSV binding: file names, column order and how a JSON record fills a row."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

Row = list[str]


class Get(NamedTuple):
    """Where a cell comes from: a field of the record, and what turns its value into the cell's
    (None: the value as it is)."""

    field: str
    then: Callable[[Any, Mapping[str, Any]], Any] | None = None


Column = tuple[str, Get]

# Every data file of the 1.2 binding, in the manifest's order.
MANIFEST_FILES = (
    "academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
    "demographics", "enrollments", "lineItemLearningObjectiveIds", "lineItems",
    "lineItemScoreScales", "orgs", "resources", "resultLearningObjectiveIds", "results",
    "resultScoreScales", "roles", "scoreScales", "userProfiles", "userResources", "users",
)
ROLE_NAMESPACE = uuid.UUID("5f1c2a8e-6d0b-4c1e-9a57-1d3f0e2b7c41")


def _sourced_id(value: Any, data: Mapping[str, Any]) -> Any:
    if type(value) is dict or isinstance(value, Mapping):  # the ABC check only if need be
        return value.get("sourcedId")
    return value


def _sourced_ids(value: Any, data: Mapping[str, Any]) -> str:
    if not value:
        return ""
    return cell([v.get("sourcedId") if isinstance(v, Mapping) else v for v in value])


def _ids(value: Any, data: Mapping[str, Any]) -> str:
    if not value:
        return ""
    return ",".join([f"{{{i.get('type', '')}:{i.get('identifier', '')}}}" for i in value
                     if isinstance(i, Mapping)])


def _field(name: str) -> Get:
    return Get(name)


def _ref(name: str) -> Get:
    return Get(name, _sourced_id)


def _refs(name: str) -> Get:
    return Get(name, _sourced_ids)


def _first(*names: str) -> Get:
    def first(value: Any, data: Mapping[str, Any]) -> Any:
        for name in names:
            value = data.get(name)
            if value is not None and value != "":
                return value
        return None
    return Get(names[0], first)


_user_ids = Get("userIds", _ids)


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
# Per file, the field each cell starts from, and the cells whose value something turns.
FIELDS = {file: tuple(get.field for _, get in columns) for file, columns in COLUMNS.items()}
THEN = {file: tuple((index, get.then) for index, (_, get) in enumerate(columns) if get.then)
        for file, columns in COLUMNS.items()}
_TEXT = frozenset((str, type(None)))


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
    # Run for every record: the fields are read in one call in C, and only a row holding
    # something other than text goes through cell().
    values = list(map(data.get, FIELDS[file]))
    for index, then in THEN[file]:
        values[index] = then(values[index], data)
    if not _TEXT.issuperset(map(type, values)):
        values = [cell(value) for value in values]
    elif None in values:
        values = [value or "" for value in values]
    if delta:
        return [sourced_id, status, modified or "", *values]
    return [sourced_id, "", "", *values]


def role_rows(user_id: str, status: str, modified: str | None, data: Mapping[str, Any],
              *, delta: bool) -> Iterator[Row]:
    """Return the roles.csv rows of one user; each role gets a stable sourcedId."""
    for number, role in enumerate(data.get("roles") or []):
        if not isinstance(role, Mapping):
            continue
        org = role.get("org")
        org_id = org.get("sourcedId") if isinstance(org, Mapping) else org
        sourced_id = role_id(f"{user_id}/{number}/{role.get('role')}/{org_id}")
        yield row("roles", sourced_id, status, modified,
                  {**role, "user": {"sourcedId": user_id}}, delta=delta)


def role_id(key: str) -> str:
    """Return str(uuid.uuid5(ROLE_NAMESPACE, key)), made without the UUID object (a third of
    the time, once per role of every user)."""
    digest = bytearray(hashlib.sha1(_ROLE_PREFIX + key.encode()).digest()[:16])
    digest[6] = digest[6] & 0x0F | 0x50  # version 5
    digest[8] = digest[8] & 0x3F | 0x80  # the RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_ROLE_PREFIX = ROLE_NAMESPACE.bytes
