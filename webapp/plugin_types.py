"""The value types host and plugins share: records, results, progress, errors, a connection.

Part of the plugin contract (webapp/plugin_api.py re-exports every name): nothing here knows a
particular plugin, a library, the database or Flask.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

# The five bulk collections SDM reads, in the order people read them.
ENTITIES: tuple[str, ...] = ("orgs", "courses", "classes", "users", "enrollments")
ENTITY_LABELS: dict[str, str] = {
    "orgs": "Organizations",
    "courses": "Courses",
    "classes": "Classes",
    "users": "Users",
    "enrollments": "Enrollments",
    "academicSessions": "Academic sessions",
    "demographics": "Demographics",
}


class Record(NamedTuple):
    """One record a source hands over, in the OneRoster 1.2 JSON shape.

    The host reads records by attribute and by position, so any tuple whose first five fields
    are these, in this order, is accepted as it is: a library's own record type (with more
    fields after these) passes through without being copied.

    `data` is a dict, or any read-only mapping. A mapping that holds its fields serialised
    already, as the UTF-8 bytes of one JSON object in its `json` attribute, is stored as those
    bytes: a source that decodes pages elsewhere need not build the dicts at all.
    """

    entity: str
    sourced_id: str
    status: str
    date_last_modified: str | None
    data: Mapping[str, Any]


class CancelToken(Protocol):
    """What a plugin asks to know whether someone wants it to stop (a threading.Event fits)."""

    def is_set(self) -> bool:
        """Tell whether the work should stop."""


class ErrorCategory(enum.StrEnum):
    """What went wrong, in categories a person can act on."""

    AUTHENTICATION = "authentication_failed"
    TOKEN_UNREACHABLE = "token_endpoint_unreachable"
    TIMEOUT = "connection_timeout"
    DNS = "dns_failure"
    TLS = "tls_failure"
    PROXY = "proxy_failure"
    NOT_ONEROSTER = "not_oneroster"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    INVALID_RESPONSE = "invalid_response"
    BUDGET_EXCEEDED = "time_budget_exceeded"
    INCOMPLETE = "incomplete_collection"
    CANCELLED = "cancelled"
    EGRESS_REFUSED = "address_not_allowed"


# A title and advice for each category, used when a plugin gives none of its own.
CATEGORY_TEXTS: dict[ErrorCategory, tuple[str, tuple[str, ...]]] = {
    ErrorCategory.AUTHENTICATION: ("Authentication Failed", (
        "Verify the credentials are correct and have not expired",)),
    ErrorCategory.TOKEN_UNREACHABLE: ("Token endpoint unreachable", (
        "Verify the token URL", "Check network allows outbound HTTPS")),
    ErrorCategory.TIMEOUT: ("Connection Timeout", (
        "Verify the address is correct", "Check network allows outbound HTTPS")),
    ErrorCategory.DNS: ("Host not found", ("Verify the address is correct",)),
    ErrorCategory.TLS: ("Secure connection failed", (
        "Ask the provider whether the server's certificate is valid and complete",)),
    ErrorCategory.PROXY: ("Proxy failure", ("Check the configured proxy",)),
    ErrorCategory.NOT_ONEROSTER: ("Not a OneRoster endpoint", (
        "Verify the address is correct",)),
    ErrorCategory.FORBIDDEN: ("Access forbidden", (
        "Ask the provider's administrator to grant access to this client",)),
    ErrorCategory.NOT_FOUND: ("Not found", ("Verify the address is correct",)),
    ErrorCategory.RATE_LIMITED: ("Rate limited", ("Try again later",)),
    ErrorCategory.SERVER_ERROR: ("Server error", (
        "Try again later or contact the provider",)),
    ErrorCategory.INVALID_RESPONSE: ("Invalid response", ("Contact the provider",)),
    ErrorCategory.BUDGET_EXCEEDED: ("Connection Timeout", (
        "Verify the address is correct", "Check network allows outbound HTTPS")),
    ErrorCategory.INCOMPLETE: ("Incomplete collection", (
        "The source could not deliver every record; contact the provider",)),
    ErrorCategory.CANCELLED: ("Cancelled", ()),
    ErrorCategory.EGRESS_REFUSED: ("Address not allowed", (
        "Use the server's public address, or ask an administrator to allow it",)),
}


class SourceError(Exception):
    """A failure of a source a person can act on. Its text never contains a secret."""

    def __init__(self, category: ErrorCategory | str, message: str, *,
                 title: str | None = None, advice: tuple[str, ...] | None = None,
                 entity: str | None = None, status: int | None = None,
                 server_message: str | None = None, url: str | None = None,
                 missing_scope: str | None = None) -> None:
        super().__init__(message)
        self.category = ErrorCategory(category)
        default_title, default_advice = CATEGORY_TEXTS[self.category]
        self.title = title or default_title
        self.advice = tuple(default_advice if advice is None else advice)
        self.message = message
        self.entity = entity
        self.status = status
        self.server_message = server_message
        self.url = url  # without query secrets
        self.missing_scope = missing_scope

    @property
    def cancelled(self) -> bool:
        return self.category == ErrorCategory.CANCELLED

    @property
    def public_message(self) -> str:
        return f"{self.title}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return the error as JSON-ready data, as pages and reports show it."""
        return {"category": self.category.value, "title": self.title, "message": self.message,
                "advice": list(self.advice), "entity": self.entity, "status": self.status,
                "server_message": self.server_message, "url": self.url,
                "missing_scope": self.missing_scope}


@dataclass(frozen=True, slots=True)
class Progress:
    """Where the read of one collection stands; handed to a read's progress callback."""

    entity: str
    state: str = "pending"  # pending | running | done | failed | cancelled
    fetched: int = 0
    total: int | None = None
    pages: int = 0
    retries: int = 0
    waiting_s: float = 0.0  # > 0 while waiting for a rate limit to lift
    error: SourceError | None = None
    requests: int = 0  # sent to the server, retries included


@dataclass(frozen=True)
class EntityResult:
    """How the read of one collection ended."""

    entity: str
    ok: bool
    records: int
    pages: int
    duplicates: int
    elapsed_s: float
    total: int | None = None
    error: SourceError | None = None
    requests: int = 0  # sent to the server, retries included
    warnings: tuple[str, ...] = ()  # e.g. the server's total and its records disagree
    # Why an optional collection was not read (ok, no records): the source does not grant it.
    withheld: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """How a read ended, per collection."""

    results: dict[str, EntityResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results.values())

    @property
    def failed(self) -> list[str]:
        return [e for e, r in self.results.items() if not r.ok]


Sink = Callable[[str, list[Record]], None]
ProgressCallback = Callable[[Progress], None]


class AuthMethod(enum.StrEnum):
    """How a connection authenticates its requests."""

    OAUTH2_BASIC = "oauth2_basic"
    OAUTH2_BODY = "oauth2_body"
    OAUTH1 = "oauth1"
    BEARER = "bearer"

    @property
    def label(self) -> str:
        return AUTH_METHOD_LABELS[self]


AUTH_METHOD_LABELS = {
    AuthMethod.OAUTH2_BASIC: "OAuth 2 client credentials, secret sent with HTTP Basic",
    AuthMethod.OAUTH2_BODY: "OAuth 2 client credentials, secret sent in the request body",
    AuthMethod.OAUTH1: "OAuth 1.0a request signing",
    AuthMethod.BEARER: "Static bearer token (the Client Secret is the token)",
}


@dataclass(frozen=True)
class EgressRules:
    """Which network addresses a source may connect to, as the host's configuration says.

    Link-local and cloud metadata addresses are never allowed; private networks and this
    machine's own addresses only when the host allows them.
    """

    allow_private: bool = False
    allow_loopback: bool = False
    hints: Mapping[str, str] = field(default_factory=dict)  # refused rule -> how to allow it
    resolver: Any = field(default=None, compare=False, repr=False)  # host -> addresses (tests)


@dataclass(frozen=True)
class ConnectionDetails:
    """A saved connection (or unsaved form values) as the host hands it to a source.

    The secret is decrypted (and its decryption audited) by the host; a plugin never reads the
    database for it.
    """

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    auth_url: str | None = None  # the provider's default filled in when left blank
    auth_method: str = AuthMethod.OAUTH2_BASIC.value
    signature_method: str = "HMAC-SHA256"  # OAuth 1.0a only; HMAC-SHA1 for older servers
    scopes: tuple[str, ...] = ()
    version: str = "1.2"  # "1.2" | "1.1"
    proxy_country: str | None = None
    # Proxy URL per country, from SDM_PROXY_<COUNTRY>; a country without one refuses to connect.
    proxies: Mapping[str, str] = field(default_factory=dict, repr=False)
    page_size: int = 1000
    max_in_flight: int = 8
    decode_processes: int = 0  # processes that may decode pages beside a read
    time_budget: float | None = None  # seconds for a whole read or test; None: unbounded
    egress: EgressRules = field(default_factory=EgressRules, repr=False)


@dataclass(frozen=True)
class ProviderTemplate:
    """What a provider pre-fills in the connection form, and where the school finds values."""

    id: str
    name: str
    description: str
    help: tuple[str, ...] = ()  # paragraphs: where the school finds its values
    client_ids: tuple[tuple[str, str], ...] = ()  # Client IDs it knows, each with its meaning
    base_url: str = ""  # pre-filled; "{app_url}" becomes the app's own root URL
    base_url_example: str = ""
    auth_url: str = ""  # pre-filled; same placeholder
    auth_url_hint: str = ""
    client_id: str = ""
    demo_secret: str = ""  # used when the Client Secret is left blank; never rendered
    version: str = "1.2"
    auth_method: AuthMethod = AuthMethod.OAUTH2_BASIC
    scopes: tuple[str, ...] = ()
    order: int = 100
    # The token URL used when a connection leaves Auth URL blank; "{base_url}" and "{origin}"
    # (scheme and host of the Base URL) are filled in. Empty: the client's own default.
    default_auth_url: str = ""
    auth_url_required: bool = False  # the provider issues the token URL per school
    # The id of the source plugin that reads this provider's connections (and tests them);
    # empty: the first registered source that uses saved connections.
    source: str = ""

    def prefill(self, app_url: str) -> dict[str, str]:
        """Return the form values this template pre-fills, placeholders resolved."""
        return {
            "base_url": self.base_url.replace("{app_url}", app_url),
            "auth_url": self.auth_url.replace("{app_url}", app_url),
            "client_id": self.client_id,
            "oneroster_version": self.version,
            "auth_method": AuthMethod(self.auth_method).value,
            "scopes": " ".join(self.scopes),
        }

    def token_url_for(self, base_url: str) -> str | None:
        """Return the default token URL for a Base URL, or None to leave it to the client."""
        if not self.default_auth_url:
            return None
        parts = urlsplit(base_url)
        return self.default_auth_url.format(base_url=base_url.rstrip("/"),
                                             origin=f"{parts.scheme}://{parts.netloc}")
