"""OneRoster query parameters on the sandbox: filter, sort/orderBy and fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# The fields a client may filter, sort and select on, per data type (from the 1.2 model).
COMMON = ("sourcedId", "status", "dateLastModified", "metadata")
FIELDS: dict[str, frozenset[str]] = {name: frozenset(COMMON + extra) for name, extra in {
    "orgs": ("name", "type", "identifier", "parent", "children"),
    "academicSessions": ("title", "startDate", "endDate", "type", "parent", "children",
                         "schoolYear"),
    "courses": ("title", "schoolYear", "courseCode", "grades", "subjects", "org",
                "subjectCodes", "resources"),
    "classes": ("title", "classCode", "classType", "location", "grades", "subjects", "course",
                "school", "terms", "subjectCodes", "periods", "resources"),
    "users": ("userMasterIdentifier", "username", "userIds", "enabledUser", "givenName",
              "familyName", "middleName", "preferredFirstName", "preferredMiddleName",
              "preferredLastName", "pronouns", "roles", "userProfiles", "primaryOrg",
              "identifier", "email", "sms", "phone", "agents", "grades", "password",
              "resources", "role", "orgs"),
    "enrollments": ("user", "class", "school", "role", "primary", "beginDate", "endDate"),
    "demographics": ("birthDate", "sex", "americanIndianOrAlaskaNative", "asian",
                     "blackOrAfricanAmerican", "nativeHawaiianOrOtherPacificIslander", "white",
                     "demographicRaceTwoOrMoreRaces", "hispanicOrLatinoEthnicity",
                     "countryOfBirthCode", "stateOfBirthAbbreviation", "cityOfBirth",
                     "publicSchoolResidenceStatus"),
}.items()}

_PREDICATE = re.compile(r"^\s*([A-Za-z][\w.]*)\s*(>=|<=|!=|=|>|<|~)\s*'((?:[^']|'')*)'\s*$")
_JOINER = re.compile(r"\s+(AND|OR)\s+")


class QueryError(ValueError):
    """A query the server refuses, with the imsx code minor to answer with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _scalar(value: Any) -> list[str]:
    """Return the strings a field's value offers to a comparison."""
    if value is None:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, dict):
        return [str(value.get("sourcedId", ""))]
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            if isinstance(item, dict) and "role" in item:
                out.append(str(item["role"]))
            else:
                out.extend(_scalar(item))
        return out
    return [str(value)]


def _lookup(record: dict, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if isinstance(value, list):
            value = [v.get(part) for v in value if isinstance(v, dict)]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


_OPS: dict[str, Callable[[str, str], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "~": lambda a, b: b.lower() in a.lower(),
}


def parse_filter(expression: str, data_type: str) -> Callable[[dict], bool]:
    """Return a predicate for a filter expression: one or two comparisons, AND or OR."""
    parts = _JOINER.split(expression.strip())
    joiners = set(parts[1::2])
    if len(parts) > 3 or len(joiners) > 1:
        raise QueryError("invalid_filter_field",
                         "The filter may hold at most two comparisons joined by AND or OR")
    tests = []
    for text in parts[0::2]:
        match = _PREDICATE.match(text)
        if not match:
            raise QueryError("invalid_filter_field", f"The filter {text!r} is not of the form "
                             "field<op>'value'")
        field, op, value = match.group(1), match.group(2), match.group(3).replace("''", "'")
        if field.split(".")[0] not in FIELDS[data_type]:
            raise QueryError("invalid_filter_field",
                             f"{data_type} cannot be filtered on {field!r}")
        tests.append(_test(field, _OPS[op], value, negative=op == "!="))
    if len(tests) == 1:
        return tests[0]
    first, second = tests
    if joiners == {"AND"}:
        return lambda record: first(record) and second(record)
    return lambda record: first(record) or second(record)


def _test(field: str, compare: Callable[[str, str], bool], value: str,
          negative: bool) -> Callable[[dict], bool]:
    def test(record: dict) -> bool:
        values = _scalar(_lookup(record, field))
        if negative:
            return all(compare(v, value) for v in values)
        return any(compare(v, value) for v in values)
    return test


def sort_key(field: str, data_type: str) -> Callable[[dict], str]:
    """Return the key that sorts records on a field."""
    if field.split(".")[0] not in FIELDS[data_type]:
        raise QueryError("invaliddata", f"{data_type} cannot be sorted on {field!r}")
    return lambda record: ",".join(_scalar(_lookup(record, field)))


def parse_fields(value: str, data_type: str) -> list[str]:
    """Return the fields a client selected, refusing unknown ones."""
    fields = [f.strip() for f in value.split(",") if f.strip()]
    unknown = [f for f in fields if f not in FIELDS[data_type]]
    if unknown:
        raise QueryError("invalid_selection_field",
                         f"{data_type} have no field {', '.join(map(repr, unknown))}")
    return fields
