"""The source-oneroster client's public value types: settings, records, progress, errors."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from oneroster.egress import EgressPolicy

# The five bulk collections SDM fetches, in the order people read them.
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

SCOPE_BASE = "https://purl.imsglobal.org/spec/or/{version}/scope/"
SCOPE_CORE = "roster-core.readonly"
SCOPE_ROSTER = "roster.readonly"
SCOPE_DEMOGRAPHICS = "roster-demographics.readonly"


def standard_scopes(version: str = "1.2") -> tuple[str, ...]:
    """Return the standard OneRoster rostering scopes of a version, as full URLs."""
    return tuple(scope_url(name, version)
                 for name in (SCOPE_CORE, SCOPE_ROSTER, SCOPE_DEMOGRAPHICS))


def scope_url(name: str, version: str = "1.2") -> str:
    """Return the full scope URL of a OneRoster scope name for a version."""
    return SCOPE_BASE.format(version="v1p2" if version == "1.2" else "v1p1") + name


@dataclass(frozen=True)
class ClientSettings:
    """Everything the client needs to reach one OneRoster server."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    auth_url: str | None = None
    auth_method: str = "oauth2_basic"  # oauth2_basic | oauth2_body | oauth1 | bearer
    signature_method: str = "HMAC-SHA256"  # OAuth 1 only; HMAC-SHA1 selectable
    scopes: tuple[str, ...] = ()
    version: str = "1.2"  # "1.2" | "1.1"
    proxy_country: str | None = None
    # Proxy URL per country, from SDM_PROXY_<COUNTRY>; a country without one refuses to connect.
    proxies: Mapping[str, str] = field(default_factory=dict, repr=False)
    page_size: int = 1000
    max_in_flight: int = 8
    # Processes that decode the pages of a parallel fetch (oneroster/decoding.py); 0: the
    # fetch decodes them itself, on one core.
    decode_processes: int = 0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    time_budget: float | None = None  # seconds for a whole fetch or test; None: unbounded
    max_retries: int = 5
    verify_tls: bool = True
    backoff_base: float = 0.5  # first retry waits up to this long; doubles per retry, with jitter
    backoff_max: float = 30.0  # no single backoff wait is longer than this
    # Where the client may connect; the default refuses private, loopback and link-local.
    egress: EgressPolicy = field(default_factory=lambda: default_egress(), repr=False)


def default_egress() -> EgressPolicy:
    """Return the egress policy settings get when given none (imported only then: the
    decoder processes of oneroster/decoding.py need the value types, not the network)."""
    from oneroster.egress import EgressPolicy

    return EgressPolicy()


class Record(NamedTuple):
    """One OneRoster entity: normalised to the 1.2 JSON shape, with the server's original.

    Immutable like the other value types, but a named tuple rather than a frozen dataclass:
    a fetch makes hundreds of thousands of them, and a tuple can be built in C, page by page
    (normalize.normalize_page), for a fraction of what setting a dataclass's fields costs.
    """

    entity: str
    sourced_id: str
    status: str
    date_last_modified: str | None
    data: dict[str, Any]
    raw: dict[str, Any]


@dataclass
class EntityProgress:
    """Where the fetch of one collection stands; handed to progress callbacks."""

    entity: str
    state: str = "pending"  # pending | running | done | failed | cancelled
    fetched: int = 0
    total: int | None = None
    pages: int = 0
    retries: int = 0
    requests: int = 0  # sent to the server, retries included
    waiting_s: float = 0.0  # > 0 while waiting for a rate limit to lift
    error: OneRosterError | None = None


@dataclass(frozen=True)
class TokenInfo:
    """What the server granted: when the credential expires and for which scopes."""

    expires_at: float  # epoch seconds; math.inf for credentials that do not expire
    scopes: tuple[str, ...] | None  # None: the server did not say
    token_type: str  # "bearer" | "oauth1"


@dataclass(frozen=True)
class Page:
    """One page of a collection, as the server answered it."""

    records: list[Record]
    status: int
    total: int | None  # X-Total-Count, when the server sends it
    next_url: str | None  # the Link header's rel="next"
    has_link: bool  # whether the server sent a Link header at all
    elapsed_s: float
    url: str  # without secrets


Sink = Callable[[str, list[Record]], None]
ProgressCallback = Callable[[EntityProgress], None]


class Category(enum.StrEnum):
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


@dataclass(frozen=True)
class CategoryInfo:
    title: str
    advice: tuple[str, ...]


CATEGORIES: dict[Category, CategoryInfo] = {
    Category.AUTHENTICATION: CategoryInfo("Authentication Failed", (
        "Verify Client ID and Secret are correct",
        "Check credentials haven't expired",
        "Ensure API access is enabled",
    )),
    Category.TOKEN_UNREACHABLE: CategoryInfo("Token endpoint unreachable", (
        "Verify the Auth URL: it must be the SIS's OAuth token endpoint",
        "Check network allows outbound HTTPS",
    )),
    Category.TIMEOUT: CategoryInfo("Connection Timeout", (
        "Verify the Base URL is correct",
        "Check network allows outbound HTTPS",
    )),
    Category.DNS: CategoryInfo("Host not found", (
        "Verify the Base URL is correct: the host name does not resolve",
    )),
    Category.TLS: CategoryInfo("Secure connection failed", (
        "The server's TLS certificate could not be verified; check the Base URL's host name",
        "Ask the SIS provider whether the certificate is valid and complete",
    )),
    Category.PROXY: CategoryInfo("Proxy failure", (
        "Check the proxy configured for this proxy country (SDM_PROXY_<COUNTRY>)",
        "Or clear the connection's proxy country to connect directly",
    )),
    Category.NOT_ONEROSTER: CategoryInfo("Not a OneRoster endpoint", (
        "Verify the Base URL is correct: it should end in the OneRoster path, "
        "such as /ims/oneroster/rostering/v1p2",
    )),
    Category.FORBIDDEN: CategoryInfo("Access forbidden", (
        "Ask the SIS administrator to grant the missing scope to this client",
        "Ensure API access is enabled",
    )),
    Category.NOT_FOUND: CategoryInfo("Not found", (
        "Verify the Base URL is correct",
    )),
    Category.RATE_LIMITED: CategoryInfo("Rate limited", (
        "The server asked SDM to slow down; try again later or lower the requests in flight",
    )),
    Category.SERVER_ERROR: CategoryInfo("Server error", (
        "The SIS answered with an error; try again later or contact the SIS provider",
    )),
    Category.INVALID_RESPONSE: CategoryInfo("Invalid response", (
        "The server's answer is not valid OneRoster JSON; contact the SIS provider",
    )),
    Category.BUDGET_EXCEEDED: CategoryInfo("Connection Timeout", (
        "Verify the Base URL is correct",
        "Check network allows outbound HTTPS",
    )),
    Category.INCOMPLETE: CategoryInfo("Incomplete collection", (
        "The server's pages do not add up to the whole collection; send the SIS provider "
        "the message above",
        "Check whether the server supports offset and limit, or sends Link headers",
    )),
    Category.CANCELLED: CategoryInfo("Cancelled", ()),
    Category.EGRESS_REFUSED: CategoryInfo("Address not allowed", (
        "Use the address the SIS provider publishes for its API",
        "An on-premises SIS on a private network needs an administrator to allow it",
    )),
}


class OneRosterError(Exception):
    """A failure a person can act on. Its text never contains a secret."""

    def __init__(
        self,
        category: Category,
        message: str,
        *,
        entity: str | None = None,
        status: int | None = None,
        server_message: str | None = None,
        url: str | None = None,  # without query secrets
        missing_scope: str | None = None,
    ) -> None:
        super().__init__(message)
        self.category = Category(category)
        self.message = message
        self.entity = entity
        self.status = status
        self.server_message = server_message
        self.url = url
        self.missing_scope = missing_scope

    @property
    def title(self) -> str:
        return CATEGORIES[self.category].title

    @property
    def advice(self) -> tuple[str, ...]:
        return CATEGORIES[self.category].advice

    @property
    def public_message(self) -> str:
        return f"{self.title}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "title": self.title,
            "message": self.message,
            "advice": list(self.advice),
            "entity": self.entity,
            "status": self.status,
            "server_message": self.server_message,
            "url": self.url,
            "missing_scope": self.missing_scope,
        }


@dataclass(frozen=True)
class EntityResult:
    """How the fetch of one collection ended."""

    entity: str
    ok: bool
    records: int
    pages: int
    duplicates: int
    elapsed_s: float
    total: int | None = None
    error: OneRosterError | None = None
    requests: int = 0  # sent to the server, retries included
    warnings: tuple[str, ...] = ()  # the server's total and its records disagree
    # Why an optional collection was not read: the server does not grant it to this client.
    withheld: str | None = None


@dataclass(frozen=True)
class FetchResult:
    results: dict[str, EntityResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results.values())

    @property
    def failed(self) -> list[str]:
        return [e for e, r in self.results.items() if not r.ok]
