"""Fault profiles: the sandbox behaves like a given kind of real server, chosen by client_id."""

from __future__ import annotations

from dataclasses import dataclass, field

SECRET = "sandbox-secret"  # every profile's Client Secret


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
            "(HMAC-SHA256 or HMAC-SHA1) instead of tokens.", oauth1=True),
    Profile("truncated", "About one answer in four is cut short; the same request succeeds "
            "when tried again.", truncate_rate=0.25),
    Profile("no-demographics", "Tokens never carry the demographics scope.",
            denied_scopes=frozenset({"roster-demographics.readonly"})),
    Profile("no-enrollments", "Tokens may not read enrollments: 403 naming the missing scope.",
            forbidden=("enrollments",)),
)}
