"""How a OneRoster 1.1 server serialises the sandbox's records: one role, orgs, booleans."""

from __future__ import annotations

from collections.abc import Callable


def user(record: dict) -> dict:
    """Turn a 1.2 user into a 1.1 one: a single role and a list of orgs."""
    roles = record.pop("roles", [])
    for key in ("primaryOrg", "userProfiles", "pronouns", "preferredFirstName",
                "preferredMiddleName", "preferredLastName", "userMasterIdentifier"):
        record.pop(key, None)
    primary = next((r for r in roles if r["roleType"] == "primary"), roles[0] if roles else None)
    role = primary["role"] if primary else "student"
    record["role"] = {"districtAdministrator": "administrator",
                      "siteAdministrator": "administrator",
                      "principal": "administrator"}.get(role, role)
    record["orgs"] = [r["org"] for r in roles]
    record["enabledUser"] = record.get("enabledUser") == "true"  # some 1.1 servers send booleans
    return record


def enrollment(record: dict) -> dict:
    """Turn a 1.2 enrollment into a 1.1 one, whose primary flag is a boolean."""
    record["primary"] = record.get("primary") == "true"
    return record


TO_1P1: dict[str, Callable[[dict], dict]] = {"users": user, "enrollments": enrollment}
