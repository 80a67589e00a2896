"""The fields each OneRoster collection must carry, per version of the specification."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Required properties of the five collections' records, from the official 1.2 OpenAPI
# definition (OrgDType, CourseDType, ClassDType, UserDType, EnrollmentDType).
REQUIRED_V1P2: dict[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "status", "dateLastModified", "name", "type", "identifier"),
    "courses": ("sourcedId", "status", "dateLastModified", "title", "courseCode"),
    "classes": ("sourcedId", "status", "dateLastModified", "title", "course", "school",
                "terms"),
    "users": ("sourcedId", "status", "dateLastModified", "enabledUser", "givenName",
              "familyName", "roles"),
    "enrollments": ("sourcedId", "status", "dateLastModified", "user", "class", "school",
                    "role"),
}

# The same for 1.1 (its information model: a single role and orgs[] on users).
REQUIRED_V1P1: dict[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "status", "dateLastModified", "name", "type"),
    "courses": ("sourcedId", "status", "dateLastModified", "title", "org"),
    "classes": ("sourcedId", "status", "dateLastModified", "title", "classType", "course",
                "school", "terms"),
    "users": ("sourcedId", "status", "dateLastModified", "username", "enabledUser",
              "givenName", "familyName", "role", "orgs"),
    "enrollments": ("sourcedId", "status", "dateLastModified", "user", "class", "school",
                    "role"),
}

# What an import cannot do without, whatever the version: identity and the references
# that tie the roster together. Missing any of these stops an import.
ESSENTIAL: dict[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "name", "type"),
    "courses": ("sourcedId", "title"),
    "classes": ("sourcedId", "title", "course", "school"),
    "users": ("sourcedId", "givenName", "familyName"),
    "enrollments": ("sourcedId", "user", "class", "role"),
}


def required_fields(entity: str, version: str) -> tuple[str, ...]:
    """Return the fields the specification requires on a record of a collection."""
    table = REQUIRED_V1P1 if version == "1.1" else REQUIRED_V1P2
    return table.get(entity, ("sourcedId", "status", "dateLastModified"))


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def missing_fields(record: Mapping[str, Any], fields: Iterable[str]) -> list[str]:
    """Return the fields absent (or empty) in one record as the server sent it."""
    return [name for name in fields if not _present(record.get(name))]


def missing_in_sample(records: Iterable[Mapping[str, Any]],
                      fields: Iterable[str]) -> dict[str, int]:
    """Count, per field, how many records of a sample lack it."""
    fields = tuple(fields)
    counts: dict[str, int] = {}
    for record in records:
        for name in missing_fields(record, fields):
            counts[name] = counts.get(name, 0) + 1
    return counts


def sample_gaps(entity: str, records: Iterable[Mapping[str, Any]],
                version: str = "1.2") -> list[str]:
    """Say, per required field, how many records of a sample lack it."""
    sample = list(records)
    missing = missing_in_sample(sample, required_fields(entity, version))
    return [f"{count} of {len(sample)} sample records have no {name}."
            for name, count in sorted(missing.items())]
