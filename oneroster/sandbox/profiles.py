"""Fault profiles: the sandbox behaves like a given kind of real server, chosen by client_id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

SECRET = "sandbox-secret"  # every profile's Client Secret
LARGER_TOTAL = 5_000_000  # what the total-larger profile claims for every collection


@dataclass(frozen=True)
class Profile:
    """How the sandbox answers one client: the quirks of a real server, on purpose."""

    name: str
    description: str
    latency_s: float = 0.0  # added to every request
    error_rate: float = 0.0  # share of requests failing with 500/502/503 or a reset
    rate_limit: int | None = None  # requests per second; past it, 429 with Retry-After
    token_ttl: int = 3600  # expires_in of its tokens, seconds
    clamp: int | None = None  # the largest page served, whatever limit asks
    total_header: bool = True  # send X-Total-Count
    link: str = "brackets"  # Link header style: brackets | bare | none
    oauth1: bool = False  # requests are signed with OAuth 1.0a instead of a token
    truncate_rate: float = 0.0  # share of answers cut short
    denied_scopes: frozenset[str] = field(default_factory=frozenset)  # never granted
    forbidden: tuple[str, ...] = ()  # collections its tokens may not read
    total: str = "true"  # X-Total-Count: true | larger (5,000,000) | smaller (half)
    ignore_offset: bool = False  # every request gets the first page
    token: str = "standard"  # standard | redirect (307 to another port) | scope | at-base
    signatures: tuple[str, ...] = ("HMAC-SHA256", "HMAC-SHA1")  # OAuth 1.0a methods accepted
    html_429: bool = False  # a 429 is a web page, not JSON
    relative: bool = False  # Link headers and hrefs are relative URLs
    version: str = "1.2"  # the OneRoster version of its Base URL

    @property
    def total_value(self) -> Callable[[int], int]:
        """Return what X-Total-Count says for a collection of a given size."""
        return {"larger": lambda n: LARGER_TOTAL, "smaller": lambda n: n // 2}.get(
            self.total, lambda n: n)


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("demo", "A well-behaved OneRoster 1.2 server."),
    Profile("latency", "Every request takes an extra 150 ms, like a distant server.",
            latency_s=0.15),
    Profile("flaky", "About one request in four fails (500, 502, 503 or a dropped "
            "connection); the same request succeeds when tried again.", error_rate=0.25),
    Profile("rate-limited", "More than 8 requests a second are answered 429 Too Many Requests "
            "with Retry-After.", rate_limit=8),
    Profile("short-token", "Tokens expire after 1 second; requests take an extra 50 ms.",
            token_ttl=1, latency_s=0.05),
    Profile("clamped", "Pages hold at most 100 records, whatever limit asks for.", clamp=100),
    Profile("no-total", "Neither X-Total-Count nor Link headers, and at most 100 records a "
            "page (like the Ed-Fi OneRoster server).", total_header=False, link="none",
            clamp=100),
    Profile("bare-link", "Link headers without angle brackets and no X-Total-Count.",
            total_header=False, link="bare"),
    Profile("oauth1", "OneRoster 1.1 records, with requests signed by OAuth 1.0a "
            "(HMAC-SHA256 or HMAC-SHA1) instead of tokens.", oauth1=True, version="1.1"),
    Profile("truncated", "About one answer in four is cut short; the same request succeeds "
            "when tried again.", truncate_rate=0.25),
    Profile("no-demographics", "Tokens never carry the demographics scope.",
            denied_scopes=frozenset({"roster-demographics.readonly"})),
    Profile("no-enrollments", "Tokens may not read enrollments: 403 naming the missing scope.",
            forbidden=("enrollments",)),
    Profile("total-larger", "X-Total-Count says 5,000,000 whatever a collection holds; no "
            "Link headers.", total="larger", link="none"),
    Profile("total-smaller", "X-Total-Count says half of what a collection holds; no Link "
            "headers.", total="smaller", link="none"),
    Profile("offset-ignored", "Every request gets the first page, whatever offset asks; "
            "X-Total-Count is right.", ignore_offset=True, link="none"),
    Profile("token-redirect", "The token endpoint answers 307 Temporary Redirect to the "
            "token endpoint of a server on another port.", token="redirect"),
    Profile("scope-required", "The token endpoint refuses a request without a scope: 400 "
            "invalid_request, scope is required.", token="scope"),
    Profile("token-at-base", "OneRoster 1.1 with its token endpoint at Base URL + /token; "
            "/oauth/token answers 405.", token="at-base", version="1.1"),
    Profile("oauth1-sha1", "OneRoster 1.1 with requests signed by OAuth 1.0a, HMAC-SHA1 only: "
            "HMAC-SHA256 signatures are refused.", oauth1=True, signatures=("HMAC-SHA1",),
            version="1.1"),
    Profile("html-429", "More than 8 requests a second are answered 429 Too Many Requests "
            "with a web page and Retry-After.", rate_limit=8, html_429=True),
    Profile("relative-links", "Link headers and hrefs are relative URLs; no X-Total-Count.",
            relative=True, total_header=False),
    Profile("cursor", "Pages by an opaque cursor in the Link header's next URL; no "
            "X-Total-Count, no offsets.", link="cursor", total_header=False),
    Profile("flaky-short-token", "One request in five fails and tokens expire after 1 "
            "second: retries and token refreshes together.", error_rate=0.2, token_ttl=1),
    Profile("rate-limited-clamped", "More than 8 requests a second are answered 429 with "
            "Retry-After, and pages hold at most 100 records.", rate_limit=8, clamp=100),
)}
