"""What the shape of a Base URL says before any request: the first step of a check.

Scheme and host, credentials in the URL, plain http, and the /ims/oneroster/… path: missing,
repeated, ending in a collection, or of the other OneRoster version, with the likely correct
Base URL when one can be told.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from oneroster.checklist import FAILED, OK, WARNING
from oneroster.model import Category, OneRosterError

PATHS = {"1.2": "/ims/oneroster/rostering/v1p2", "1.1": "/ims/oneroster/v1p1"}
MARKER = "/ims/oneroster"
COLLECTION_NAMES = frozenset(name.lower() for name in (
    "orgs", "courses", "classes", "users", "enrollments", "academicSessions", "demographics",
    "schools", "students", "teachers", "terms", "gradingPeriods",
))


def display_url(url: str) -> str:
    """Return a URL fit to show: no user name, password or query string."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{netloc}{parts.path}"


@dataclass(frozen=True)
class UrlFinding:
    """What the shape of a Base URL says, before any request."""

    state: str
    summary: str
    details: tuple[str, ...] = ()
    suggestion: str | None = None
    blocking: bool = False
    error: dict[str, Any] | None = None


def _blocked(summary: str, message: str, details: tuple[str, ...] = (),
             suggestion: str | None = None) -> UrlFinding:
    error = OneRosterError(Category.NOT_ONEROSTER, message).to_dict()
    error["step"] = "Base URL"
    if suggestion:
        error["suggestion"] = suggestion
    return UrlFinding(FAILED, summary, details or (message,), suggestion, True, error)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def analyse_base_url(url: str, version: str) -> UrlFinding:
    """Check a Base URL's shape: scheme and host, and the /ims/oneroster/… path."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _blocked("Not an absolute http(s) URL",
                        "The Base URL must start with https:// and name a host.")
    if parts.username or parts.password:
        return _blocked("Contains a user name or password",
                        "The Base URL must not carry credentials; enter them as the Client "
                        "ID and Client Secret.")
    expected = PATHS.get(version, PATHS["1.2"])
    origin = display_url(f"{parts.scheme}://{parts.netloc}")
    path = parts.path.rstrip("/")
    lower = path.lower()
    shown = origin + path
    insecure = parts.scheme == "http" and not _is_loopback(parts.hostname)
    extra: list[str] = []
    if parts.query:
        extra.append("Its query string is sent with every request.")
    if insecure:
        extra.append("Plain http: the token and roster data would travel unencrypted.")
    finding = _path_finding(origin, path, lower, shown, version, expected)
    if extra and not finding.blocking:
        state = WARNING if insecure else finding.state
        finding = dataclasses.replace(finding, state=state,
                                      details=finding.details + tuple(extra))
    return finding


def _path_finding(origin: str, path: str, lower: str, shown: str, version: str,
                  expected: str) -> UrlFinding:
    occurrences = lower.count(MARKER)
    if occurrences >= 2:
        suggestion = origin + path[:lower.index(MARKER)] + expected
        return _blocked(
            "The OneRoster path appears twice",
            f"The Base URL repeats /ims/oneroster/…; SDM adds the collection names itself. "
            f"Likely correct: {suggestion}",
            (f"{shown} repeats /ims/oneroster/….", f"Likely correct: {suggestion}"),
            suggestion)
    if lower.endswith(expected):
        return UrlFinding(OK, f"Well formed · OneRoster {version} path", (shown,))
    if occurrences == 0:
        suggestion = origin + path + expected
        return UrlFinding(WARNING, "No /ims/oneroster/… path", (
            f"OneRoster {version} Base URLs end in {expected}; this one does not.",
            f"Likely correct: {suggestion}"), suggestion)
    start = lower.index(MARKER)
    prefix = path[:start]
    known = _known_path_finding(origin, prefix, path[start:], lower[start:], shown, version,
                                expected)
    if known is not None:
        return known
    suggestion = origin + prefix + expected
    return UrlFinding(WARNING, "Unexpected OneRoster path", (
        f"{shown} does not end in {expected}.", f"Likely correct: {suggestion}"), suggestion)


def _known_path_finding(origin: str, prefix: str, path: str, tail: str, shown: str,
                        version: str, expected: str) -> UrlFinding | None:
    """Judge a path holding a known OneRoster version's root: a collection, or another version."""
    for known_version, known in PATHS.items():
        if tail.startswith(known + "/"):
            rest = tail[len(known) + 1:].split("/")[0]
            if rest in COLLECTION_NAMES:
                suggestion = origin + prefix + path[:len(known)]
                return _blocked(
                    f"Ends in a collection (/{rest})",
                    f"The Base URL ends in a collection; SDM adds /orgs, /users and the "
                    f"others itself. Likely correct: {suggestion}",
                    (f"{shown} ends in /{rest}.", f"Likely correct: {suggestion}"),
                    suggestion)
        if tail == known and known_version != version:
            suggestion = origin + prefix + expected
            return UrlFinding(
                WARNING, f"OneRoster {known_version} path, but the connection is set to "
                         f"{version}",
                (f"Pick OneRoster {known_version} under Advanced, or use {suggestion} if the "
                 f"server also serves {version}.",), suggestion)
    return None
