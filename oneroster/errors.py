"""Turn failed requests into OneRosterErrors a person can act on, with no secret in them.

The removal of secrets is oneroster/scrub.py; its names stay importable from here.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import requests

from oneroster.model import (
    ENTITY_LABELS,
    SCOPE_CORE,
    SCOPE_DEMOGRAPHICS,
    SCOPE_ROSTER,
    Category,
    OneRosterError,
    scope_url,
)
from oneroster.scrub import REDACTED as REDACTED  # re-exported: the removal of secrets
from oneroster.scrub import safe_url
from oneroster.scrub import scrub as scrub
from oneroster.scrub import scrub_error as scrub_error
from oneroster.scrub import secret_forms as secret_forms

PATH_V1P2 = "/ims/oneroster/rostering/v1p2"
PATH_V1P1 = "/ims/oneroster/v1p1"
_SCOPE_RE = re.compile(
    r"https?://purl\.imsglobal\.org/spec/or/v1p[12]/scope/[A-Za-z.\-]+"
    r"|\broster(?:-core|-demographics)?\.readonly\b"
)
_MAX_SERVER_MESSAGE = 200


def label(entity: str | None) -> str:
    """Return the name people use for a collection."""
    if entity is None:
        return "the server"
    return ENTITY_LABELS.get(entity, entity)


def expected_path(version: str) -> str:
    """Return the standard OneRoster path for a version."""
    return PATH_V1P1 if version == "1.1" else PATH_V1P2


def suggest_base_url(base_url: str, version: str) -> str | None:
    """Return the Base URL a server probably expects, or None when the path looks right."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    want = expected_path(version)
    if path.endswith(want):
        return None
    marker = path.find("/ims/oneroster")
    prefix = path[:marker] if marker >= 0 else path
    return urlunsplit((parts.scheme, parts.netloc, prefix + want, "", ""))


def with_entity(error: OneRosterError, entity: str) -> OneRosterError:
    """Return a copy of an error that names the collection it stopped."""
    return OneRosterError(error.category, error.message, entity=entity, status=error.status,
                          server_message=error.server_message, url=error.url,
                          missing_scope=error.missing_scope)


def host_of(url: str) -> str:
    """Return host[:port] of a URL, for messages."""
    try:
        return urlsplit(url).netloc.rsplit("@", 1)[-1] or url
    except ValueError:
        return url


def looks_like_html(content_type: str, body: bytes) -> bool:
    """Tell whether a body is an HTML page rather than JSON."""
    if "html" in content_type.lower():
        return True
    head = body[:200].lstrip().lower()
    return head.startswith(b"<!doctype") or head.startswith(b"<html") or head.startswith(b"<")


def server_message(body: bytes, content_type: str = "") -> str | None:
    """Return the server's own explanation from a JSON error body, cut short.

    Only JSON error fields are read: any other body (a web page, plain text) is never
    repeated, since whatever answers at an address could put anything there.
    """
    if not body or looks_like_html(content_type, body):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    texts = []
    for key in ("imsx_description", "error_description", "message", "detail", "title"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            texts.append(value.strip())
    code = _code_minor(data) or data.get("error")
    if isinstance(code, str) and code and not any(code in t for t in texts):
        texts.insert(0, code)
    return _clip(": ".join(texts)) if texts else None


def _code_minor(data: dict) -> str | None:
    minor = data.get("imsx_CodeMinor") or data.get("imsx_codeMinor")
    if isinstance(minor, str):
        return minor
    if isinstance(minor, dict):
        fields = minor.get("imsx_codeMinorField")
        if isinstance(fields, dict):
            fields = [fields]
        if isinstance(fields, list):
            values = [f.get("imsx_codeMinorFieldValue") for f in fields if isinstance(f, dict)]
            values = [v for v in values if isinstance(v, str)]
            return ", ".join(values) or None
    return None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SERVER_MESSAGE else text[:_MAX_SERVER_MESSAGE - 1] + "…"


def is_oneroster_json(body: bytes) -> bool:
    """Tell whether an error body is a OneRoster (imsx) or OAuth JSON error."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and any(
        key.startswith("imsx_") or key == "error" for key in data
    )


def missing_scope(message: str | None, entity: str | None, version: str,
                  granted: tuple[str, ...] | None) -> str | None:
    """Name the scope a 403 is about: the server's words first, then what the entity needs."""
    if message:
        match = _SCOPE_RE.search(message)
        if match:
            found = match.group(0)
            return found if found.startswith("http") else scope_url(found, version)
    if entity == "demographics":
        return scope_url(SCOPE_DEMOGRAPHICS, version)
    if granted is not None:
        names = {s.rsplit("/", 1)[-1] for s in granted}
        if SCOPE_ROSTER not in names and SCOPE_CORE not in names:
            return scope_url(SCOPE_ROSTER, version)
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """Walk an exception and everything it wraps."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (current.__cause__, current.__context__, getattr(current, "reason", None),
                       *current.args):
            if isinstance(nested, BaseException):
                todo.append(nested)


def is_dns(exc: BaseException) -> bool:
    for item in _chain(exc):
        if isinstance(item, socket.gaierror) or type(item).__name__ == "NameResolutionError":
            return True
        text = str(item)
        if "Name or service not known" in text or "nodename nor servname" in text \
                or "Temporary failure in name resolution" in text:
            return True
    return False


def _is_refused(exc: BaseException) -> bool:
    return any(isinstance(item, ConnectionRefusedError) or "Connection refused" in str(item)
               for item in _chain(exc))


def classify_exception(exc: requests.RequestException, *, url: str, entity: str | None,
                       token_phase: bool, connect_timeout: float,
                       read_timeout: float) -> OneRosterError:
    """Name what went wrong when a request got no HTTP answer at all."""
    host = host_of(url)
    where = "the token endpoint" if token_phase else label(entity)
    kwargs = {"entity": entity, "url": safe_url(url)}
    if isinstance(exc, requests.exceptions.ProxyError):
        return OneRosterError(Category.PROXY, f"The proxy did not pass the request to {host} "
                              f"through: {_reason(exc)}", **kwargs)
    if isinstance(exc, requests.exceptions.SSLError) or any(
            isinstance(item, ssl.SSLError) for item in _chain(exc)):
        return OneRosterError(Category.TLS, f"The secure connection to {host} failed: "
                              f"{_reason(exc)}", **kwargs)
    if is_dns(exc):
        category = Category.TOKEN_UNREACHABLE if token_phase else Category.DNS
        return OneRosterError(category, f"The host name {host.split(':')[0]} does not resolve "
                              "(DNS lookup failed)", **kwargs)
    if isinstance(exc, requests.exceptions.ConnectTimeout) or (
            isinstance(exc, requests.exceptions.ConnectionError) and _is_refused(exc)):
        # One wording whether nothing listens or a firewall drops: no port scanning.
        category = Category.TOKEN_UNREACHABLE if token_phase else Category.TIMEOUT
        return OneRosterError(category, f"Could not connect to {host}: nothing answered "
                              "there (no server, or a firewall in the way)", **kwargs)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        category = Category.TOKEN_UNREACHABLE if token_phase else Category.TIMEOUT
        return OneRosterError(category, f"{host} accepted the connection but did not answer "
                              f"within {read_timeout:g} s ({where})", **kwargs)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.
                  ContentDecodingError):
        return OneRosterError(Category.INVALID_RESPONSE, f"{host} cut its answer short "
                              f"({where})", **kwargs)
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                  | requests.exceptions.InvalidSchema):
        return OneRosterError(Category.NOT_ONEROSTER, f"The URL is not valid: {_reason(exc)}",
                              **kwargs)
    category = Category.TOKEN_UNREACHABLE if token_phase else Category.SERVER_ERROR
    return OneRosterError(category, f"The connection to {host} broke: {_reason(exc)}", **kwargs)


def _reason(exc: BaseException) -> str:
    """Return the innermost readable cause of a requests exception, without URLs."""
    innermost = exc
    for item in _chain(exc):
        if not isinstance(item, requests.RequestException) and str(item):
            innermost = item
    text = str(innermost)
    text = re.sub(r"HTTPS?ConnectionPool\([^)]*\):\s*", "", text)
    text = re.sub(r"Max retries exceeded with url: \S+ \(Caused by ", "", text)
    text = re.sub(r"<urllib3[^>]*>:?\s*", "", text)
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text).strip(" '\"")  # OpenSSL's source line
    # Drop the parentheses the wrapping left unmatched, never one that closes a pair.
    while text.endswith(")") and text.count(")") > text.count("("):
        text = text[:-1].rstrip(" '\"")
    while text.startswith("(") and text.count("(") > text.count(")"):
        text = text[1:].lstrip(" '\"")
    return _clip(text) or type(innermost).__name__


def classify_status(status: int, body: bytes, content_type: str, *, url: str,
                    entity: str | None, base_url: str, version: str,
                    granted: tuple[str, ...] | None = None,
                    after_refresh: bool = False) -> OneRosterError:
    """Name what a non-2xx answer from a collection endpoint means."""
    said = server_message(body, content_type)
    what = label(entity)
    kwargs = {"entity": entity, "status": status, "server_message": said, "url": safe_url(url)}
    if status == 401:
        text = (f"The server refused the credentials for {what} even with a fresh token: "
                "they may be revoked or lack permission for this API"
                if after_refresh else
                f"The server refused the credentials for {what}: they may be wrong, revoked or "
                "lack permission for this API")
        return OneRosterError(Category.AUTHENTICATION, text, **kwargs)
    if status == 403:
        scope = missing_scope(said, entity, version, granted)
        text = f"The server refused access to {what}"
        text += f": the credentials lack the scope {scope}" if scope else \
            ": the credentials are not allowed to read it"
        return OneRosterError(Category.FORBIDDEN, text, missing_scope=scope, **kwargs)
    if status == 429:
        return OneRosterError(Category.RATE_LIMITED, f"The server kept asking SDM to slow down "
                              f"while reading {what} (429 Too Many Requests)", **kwargs)
    if status >= 500:
        return OneRosterError(Category.SERVER_ERROR, f"The server failed while answering for "
                              f"{what} (HTTP {status})", **kwargs)
    html = looks_like_html(content_type, body) if body else False
    if status in (404, 405) and (html or not is_oneroster_json(body)):
        return not_oneroster(base_url, version, f"the server answered HTTP {status} "
                             f"{'with a web page ' if html else ''}for {what}", **kwargs)
    if status == 404:
        return OneRosterError(Category.NOT_FOUND, f"The server has no {what} at this URL "
                              "(HTTP 404)", **kwargs)
    return OneRosterError(Category.SERVER_ERROR, f"The server refused the request for {what} "
                          f"(HTTP {status})", **kwargs)


def not_oneroster(base_url: str, version: str, reason: str, **kwargs) -> OneRosterError:
    """Say that the Base URL does not lead to a OneRoster API, and suggest the expected path."""
    suggestion = suggest_base_url(base_url, version)
    text = f"This does not look like a OneRoster {version} API: {reason}"
    if suggestion:
        text += f". OneRoster {version} lives under {expected_path(version)}; "
        text += f"try the Base URL {safe_url(suggestion)}"
    return OneRosterError(Category.NOT_ONEROSTER, text, **kwargs)


def classify_token_status(status: int, body: bytes, content_type: str, *, url: str,
                          scopes: tuple[str, ...]) -> OneRosterError:
    """Name what a failed token request means."""
    said = server_message(body, content_type)
    kwargs = {"status": status, "server_message": said, "url": safe_url(url)}
    code = _oauth_error(body)
    if code == "invalid_scope":
        asked = " ".join(scopes) or "the default scopes"
        return OneRosterError(Category.FORBIDDEN, f"The token endpoint refused the requested "
                              f"scopes ({asked})", missing_scope=" ".join(scopes) or None,
                              **kwargs)
    if status in (400, 401, 403) and (code or status != 400 or not looks_like_html(
            content_type, body)):
        return OneRosterError(Category.AUTHENTICATION, "The token endpoint refused the Client "
                              "ID or Secret", **kwargs)
    if status == 429:
        return OneRosterError(Category.RATE_LIMITED, "The token endpoint kept asking SDM to "
                              "slow down (429 Too Many Requests)", **kwargs)
    if status >= 500:
        return OneRosterError(Category.TOKEN_UNREACHABLE, f"The token endpoint failed "
                              f"(HTTP {status})", **kwargs)
    return OneRosterError(Category.TOKEN_UNREACHABLE, f"The Auth URL answered HTTP {status}: "
                          "it does not look like an OAuth 2 token endpoint", **kwargs)


def _oauth_error(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    code = data.get("error") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None
