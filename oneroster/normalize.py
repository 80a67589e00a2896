"""Bring OneRoster 1.1 and 1.2 records, as real servers send them, into the 1.2 JSON shape."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

from oneroster.model import Category, OneRosterError, Record

# The data type a path serves: /schools answers "orgs", /students answers "users", and so on.
DATA_TYPE = {
    "orgs": "orgs", "schools": "orgs",
    "courses": "courses",
    "classes": "classes",
    "users": "users", "students": "users", "teachers": "users",
    "enrollments": "enrollments",
    "academicSessions": "academicSessions", "terms": "academicSessions",
    "gradingPeriods": "academicSessions",
    "demographics": "demographics",
}
SINGULAR = {"orgs": "org", "courses": "course", "classes": "class", "users": "user",
            "enrollments": "enrollment", "academicSessions": "academicSession",
            "demographics": "demographics"}

STATUS = {"active": "active", "tobedeleted": "tobedeleted", "inactive": "tobedeleted"}
USER_ROLES = ("aide", "counselor", "districtAdministrator", "guardian", "parent", "principal",
              "proctor", "relative", "siteAdministrator", "student", "systemAdministrator",
              "teacher")
ENROLLMENT_ROLES = ("administrator", "proctor", "student", "teacher")
ORG_TYPES = ("department", "district", "local", "national", "school", "state")
SESSION_TYPES = ("gradingPeriod", "semester", "schoolYear", "term")
CLASS_TYPES = ("homeroom", "scheduled")
SEXES = ("male", "female", "unspecified", "other")
DEMOGRAPHIC_FLAGS = ("americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
                     "nativeHawaiianOrOtherPacificIslander", "white",
                     "demographicRaceTwoOrMoreRaces", "hispanicOrLatinoEthnicity")
# 1.1 user roles that 1.2 renamed.
ROLE_1P1 = {"administrator": "siteAdministrator"}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _canon(values: tuple[str, ...], extra: dict[str, str] | None = None) -> dict[str, str]:
    table = {v: v for v in values}
    table.update({v.lower(): v for v in values})
    table.update(extra or {})
    return table


_USER_ROLE = _canon(USER_ROLES, ROLE_1P1)
_ENROLLMENT_ROLE = _canon(ENROLLMENT_ROLES)
_ORG_TYPE = _canon(ORG_TYPES)
_SESSION_TYPE = _canon(SESSION_TYPES)
_CLASS_TYPE = _canon(CLASS_TYPES)
_SEX = _canon(SEXES)
_USER_ROLE_OK = frozenset(USER_ROLES)


def enum_value(value: Any, table: dict[str, str]) -> Any:
    """Return the spec spelling of an enum value; ext: and unknown values pass unchanged."""
    if not isinstance(value, str):
        return value
    found = table.get(value)
    if found is not None:
        return found
    if value.startswith("ext:"):
        return value
    return table.get(value.strip().lower(), value)


def bool_string(value: Any) -> Any:
    """Return "true"/"false" for the booleans, 1/0 and strings servers send."""
    if value is True or value == 1:
        return "true"
    if value is False or value == 0:
        return "false"
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return "true"
        if lowered in _FALSE:
            return "false"
    return value


def string_list(value: Any) -> Any:
    """Return a list for the comma-separated strings some servers send for arrays."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _set(data: dict, raw: dict, key: str, value: Any) -> dict:
    """Change one field, copying the record the first time (the original stays as sent)."""
    if data is raw:
        data = dict(raw)
    data[key] = value
    return data


# The fixers below run for every record of a fetch: each first checks, as cheaply as it can,
# whether the record is already in shape, and only then does the work.

def _lists(data: dict, raw: dict, keys: tuple[str, ...]) -> dict:
    for key in keys:
        value = raw.get(key)
        if value.__class__ is str:
            data = _set(data, raw, key, string_list(value))
    return data


def _users(raw: dict) -> dict:
    data = raw
    enabled = raw.get("enabledUser")
    if enabled is not None and enabled != "true" and enabled != "false":
        data = _set(data, raw, "enabledUser", bool_string(enabled))
    roles = raw.get("roles")
    if roles is None:
        if "role" in raw:
            data = _roles_from_1p1(data, raw)
    elif roles.__class__ is list:
        for role in roles:
            if role.__class__ is not dict or role.get("role") not in _USER_ROLE_OK:
                fixed = [_role(r) for r in roles]
                if any(a is not b for a, b in zip(fixed, roles, strict=True)):
                    data = _set(data, raw, "roles", fixed)
                break
    if "primaryOrg" not in data:
        roles = data.get("roles")
        if isinstance(roles, list):
            primary = next((r.get("org") for r in roles
                            if isinstance(r, dict) and r.get("roleType") == "primary"), None)
            if primary is not None:
                data = _set(data, raw, "primaryOrg", primary)
    return _lists(data, raw, ("grades",))


def _role(role: Any) -> Any:
    if not isinstance(role, dict):
        return role
    value = role.get("role")
    fixed = enum_value(value, _USER_ROLE)
    if fixed is value:
        return role
    return {**role, "role": fixed}


def _roles_from_1p1(data: dict, raw: dict) -> dict:
    """Turn a 1.1 user's single role and orgs list into 1.2 roles and primaryOrg."""
    role = enum_value(raw.get("role"), _USER_ROLE)
    orgs = raw.get("orgs")
    if isinstance(orgs, dict):
        orgs = [orgs]
    orgs = [o for o in orgs or () if isinstance(o, dict)]
    data = _set(data, raw, "roles", [
        {"roleType": "primary" if i == 0 else "secondary", "role": role, "org": org}
        for i, org in enumerate(orgs)
    ])
    if orgs and "primaryOrg" not in raw:
        data["primaryOrg"] = orgs[0]
    return data


def _enum_field(key: str, table: dict[str, str]) -> Callable[[dict], dict]:
    canonical = frozenset(table.values())

    def fix(raw: dict) -> dict:
        value = raw.get(key)
        if value.__class__ is not str or value in canonical:
            return raw
        fixed = enum_value(value, table)
        return raw if fixed is value else _set(raw, raw, key, fixed)
    return fix


_ENROLLMENT_ROLE_OK = frozenset(ENROLLMENT_ROLES)


def _enrollments(raw: dict) -> dict:
    data = raw
    role = raw.get("role")
    if role.__class__ is str and role not in _ENROLLMENT_ROLE_OK:
        fixed = enum_value(role, _ENROLLMENT_ROLE)
        if fixed is not role:
            data = _set(data, raw, "role", fixed)
    primary = raw.get("primary")
    if primary is not None and primary != "true" and primary != "false":
        data = _set(data, raw, "primary", bool_string(primary))
    return data


def _classes(raw: dict) -> dict:
    data = _enum_field("classType", _CLASS_TYPE)(raw)
    return _lists(data, raw, ("grades", "subjects", "subjectCodes", "periods"))


def _courses(raw: dict) -> dict:
    return _lists(raw, raw, ("grades", "subjects", "subjectCodes"))


def _demographics(raw: dict) -> dict:
    data = _enum_field("sex", _SEX)(raw)
    for key in DEMOGRAPHIC_FLAGS:
        value = raw.get(key)
        if value is not None and value != "true" and value != "false":
            data = _set(data, raw, key, bool_string(value))
    return data


FIXERS: dict[str, Callable[[dict], dict]] = {
    "orgs": _enum_field("type", _ORG_TYPE),
    "courses": _courses,
    "classes": _classes,
    "users": _users,
    "enrollments": _enrollments,
    "academicSessions": _enum_field("type", _SESSION_TYPE),
    "demographics": _demographics,
}


# A page from a 1.2 server is usually in shape already. These checks prove it one field at a
# time over the whole page (map and set operations run in C), so such a page costs no Python
# call per record; a page that fails a check, or holds anything odd, goes through the fixers.
_GET = dict.get
_SOURCED_ID = itemgetter("sourcedId")
_ROLE = itemgetter("role")
_STRINGS = frozenset((str,))
_LISTS = frozenset((list,))
_BOOLEAN_TEXT = frozenset((None, "true", "false"))
_STATUS_OK = frozenset(("active", "tobedeleted"))


def _column(rows: list, key: str) -> Iterator[Any]:
    return map(_GET, rows, repeat(key))


def _among(rows: list, key: str, allowed: frozenset) -> bool:
    """Whether every record's `key` is one of `allowed` (None: the field is absent)."""
    return allowed.issuperset(_column(rows, key))


def _no_text(rows: list, keys: tuple[str, ...]) -> bool:
    """Whether no record sends one of these arrays as a comma-separated string."""
    return all(str not in set(map(type, _column(rows, key))) for key in keys)


def _values(values: tuple[str, ...]) -> frozenset:
    return frozenset((None, *values))


def _users_in_shape(rows: list) -> bool:
    if not (_among(rows, "enabledUser", _BOOLEAN_TEXT) and _no_text(rows, ("grades",))
            and all(map(dict.__contains__, rows, repeat("primaryOrg")))):
        return False
    roles = list(_column(rows, "roles"))
    return _LISTS.issuperset(map(type, roles)) and _USER_ROLE_OK.issuperset(
        map(_ROLE, chain.from_iterable(roles)))


_DEMOGRAPHIC_FIELDS = (("sex", _values(SEXES)),
                       *((flag, _BOOLEAN_TEXT) for flag in DEMOGRAPHIC_FLAGS))

IN_SHAPE: dict[str, Callable[[list], bool]] = {
    "orgs": lambda rows: _among(rows, "type", _values(ORG_TYPES)),
    "courses": lambda rows: _no_text(rows, ("grades", "subjects", "subjectCodes")),
    "classes": lambda rows: _among(rows, "classType", _values(CLASS_TYPES)) and _no_text(
        rows, ("grades", "subjects", "subjectCodes", "periods")),
    "users": _users_in_shape,
    "enrollments": lambda rows: _among(rows, "role", _values(ENROLLMENT_ROLES))
    and _among(rows, "primary", _BOOLEAN_TEXT),
    "academicSessions": lambda rows: _among(rows, "type", _values(SESSION_TYPES)),
    "demographics": lambda rows: all(_among(rows, key, allowed)
                                     for key, allowed in _DEMOGRAPHIC_FIELDS),
}


def page_rows(entity: str, payload: Any) -> list | None:
    """Return a page's list of records: under its data type's key (a /students page under
    "users"), or its path's; None when the payload holds no such list."""
    if not isinstance(payload, dict):
        return None
    rows = payload.get(DATA_TYPE[entity])
    if rows is None:
        rows = payload.get(entity)
    return rows if isinstance(rows, list) else None


def in_shape(entity: str, rows: list) -> bool:
    """Whether every record of a page is in the 1.2 shape already: nothing to fix."""
    try:
        return (_STRINGS.issuperset(map(type, map(_SOURCED_ID, rows)))
                and "" not in map(_SOURCED_ID, rows)
                and _STATUS_OK.issuperset(_column(rows, "status"))
                and IN_SHAPE[DATA_TYPE[entity]](rows))
    except (KeyError, TypeError, AttributeError):  # something odd: the fixers deal with it
        return False


def normalize_page(entity: str, rows: list) -> list[Record]:
    """Return the Records of one page of a collection, in the 1.2 shape."""
    if not in_shape(entity, rows):
        return list(map(normalizer(entity), rows))
    return list(map(_NEW, repeat(Record), zip(repeat(entity), map(_SOURCED_ID, rows),
                                              _column(rows, "status"),
                                              _column(rows, "dateLastModified"), rows, rows)))


# Builds a Record from a tuple of its fields in C: no Python call per record.
_NEW = tuple.__new__
_RECORD = partial(_NEW, Record)


def new_record(entity: str, sourced_id: str, status: str, date_last_modified: str | None,
               data: dict, raw: dict) -> Record:
    """Return a Record, built without the named tuple's Python-level constructor."""
    return _RECORD((entity, sourced_id, status, date_last_modified, data, raw))


def normalizer(entity: str) -> Callable[[Any], Record]:
    """Return the function that turns one raw record of a collection into a Record."""
    fixer = FIXERS[DATA_TYPE[entity]]
    status_table = {**STATUS, "none": "active"}
    build = _RECORD

    def make(raw: Any) -> Record:
        try:
            sourced_id = raw["sourcedId"]
        except (KeyError, TypeError):
            raise OneRosterError(Category.INVALID_RESPONSE,
                                 f"The server sent a {SINGULAR[DATA_TYPE[entity]]} record "
                                 "without a sourcedId", entity=entity) from None
        if sourced_id is None or sourced_id == "":
            raise OneRosterError(Category.INVALID_RESPONSE,
                                 f"The server sent a {SINGULAR[DATA_TYPE[entity]]} record "
                                 "with an empty sourcedId", entity=entity)
        data = fixer(raw)
        status = raw.get("status")
        if status != "active" and status != "tobedeleted":
            fixed = status_table.get(str(status).strip().lower(), status or "active")
            if fixed != status:
                data = _set(data, raw, "status", fixed)
            status = fixed
        if sourced_id.__class__ is not str:
            sourced_id = str(sourced_id)
        return build((entity, sourced_id, status, raw.get("dateLastModified"), data, raw))

    return make
