"""The columns people see for each collection, in previews and the data browser."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Getter = Callable[[Mapping[str, Any]], Any]


def _get(*path: str) -> Getter:
    def get(data: Mapping[str, Any]) -> Any:
        value: Any = data
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value
    return get


def _roles(data: Mapping[str, Any]) -> Any:
    roles = [r.get("role") for r in data.get("roles") or [] if isinstance(r, Mapping)]
    return sorted({r for r in roles if r}) or data.get("role")


COLUMNS: dict[str, tuple[tuple[str, Getter], ...]] = {
    "orgs": (("Name", _get("name")), ("Type", _get("type")),
             ("Identifier", _get("identifier")), ("Parent", _get("parent", "sourcedId"))),
    "courses": (("Title", _get("title")), ("Code", _get("courseCode")),
                ("Org", _get("org", "sourcedId"))),
    "classes": (("Title", _get("title")), ("Code", _get("classCode")),
                ("Course", _get("course", "sourcedId")),
                ("School", _get("school", "sourcedId"))),
    "users": (("Given name", _get("givenName")), ("Family name", _get("familyName")),
              ("Role", _roles), ("Username", _get("username")), ("Email", _get("email"))),
    "enrollments": (("User", _get("user", "sourcedId")), ("Class", _get("class", "sourcedId")),
                    ("Role", _get("role")), ("Primary", _get("primary"))),
    "academicSessions": (("Title", _get("title")), ("Type", _get("type")),
                         ("Start", _get("startDate")), ("End", _get("endDate"))),
}
FALLBACK = (("Status", _get("status")), ("Modified", _get("dateLastModified")))


def headers(entity: str) -> tuple[str, ...]:
    return tuple(name for name, _ in COLUMNS.get(entity, FALLBACK))


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set):
        return ", ".join(text(v) for v in value)
    return str(value)


def cells(entity: str, data: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the displayed values of one record."""
    return tuple(text(get(data)) for _, get in COLUMNS.get(entity, FALLBACK))
