"""The sandbox's credentials: client-credentials tokens with scopes, and OAuth 1.0a signatures."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import unquote

from oauthlib.oauth1.rfc5849 import signature as oauth1
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header, unescape

from plugins.source_oneroster.sandbox.profiles import PROFILES, SECRET, Profile

SCOPE_NAMES = ("roster-core.readonly", "roster.readonly", "roster-demographics.readonly")
SCOPE_PREFIXES = ("https://purl.imsglobal.org/spec/or/v1p2/scope/",
                  "https://purl.imsglobal.org/spec/or/v1p1/scope/")
OAUTH1_WINDOW_S = 600  # accepted clock difference for oauth_timestamp
MAX_TOKENS = 20000


class AuthFailure(Exception):
    """Credentials the sandbox refuses; `code` is the OAuth or imsx error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Grant:
    """Who is calling and what it may read."""

    client_id: str
    profile: Profile
    scopes: frozenset[str]  # short names, e.g. "roster.readonly"
    expires_at: float  # monotonic


def scope_name(scope: str) -> str | None:
    """Return the short name of a OneRoster scope URL (either version), or None if unknown."""
    for prefix in SCOPE_PREFIXES:
        if scope.startswith(prefix):
            scope = scope[len(prefix):]
            break
    return scope if scope in SCOPE_NAMES else None


def full_scope(name: str, version: str = "1.2") -> str:
    """Return the scope URL of a short scope name."""
    return SCOPE_PREFIXES[0 if version == "1.2" else 1] + name


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """Return (client_id, secret) from an HTTP Basic Authorization header."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if sep else None


class Tokens:
    """Issued access tokens and their grants."""

    def __init__(self) -> None:
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()
        self.issued: dict[str, int] = {}  # per client_id

    def issue(self, client_id: str, secret: str, requested: str | None) -> tuple[str, Grant]:
        """Check client credentials and grant a token; raise AuthFailure when refused."""
        profile = PROFILES.get(client_id)
        if profile is None or not hmac.compare_digest(secret.encode(), SECRET.encode()):
            raise AuthFailure(401, "invalid_client", "Unknown client or wrong client secret")
        if profile.oauth1:
            raise AuthFailure(400, "unauthorized_client", "This client signs its requests with "
                              "OAuth 1.0a; it has no tokens")
        if requested:
            names = set()
            for scope in requested.split():
                name = scope_name(scope)
                if name is None:
                    raise AuthFailure(400, "invalid_scope", f"Unknown scope {scope}")
                names.add(name)
        else:
            names = set(SCOPE_NAMES)
        grant = Grant(client_id, profile, frozenset(names - profile.denied_scopes),
                      time.monotonic() + profile.token_ttl)
        token = secrets.token_urlsafe(24)
        with self._lock:
            if len(self._grants) >= MAX_TOKENS:
                now = time.monotonic()
                self._grants = {t: g for t, g in self._grants.items() if g.expires_at > now}
            self._grants[token] = grant
            self.issued[client_id] = self.issued.get(client_id, 0) + 1
        return token, grant

    def check(self, token: str) -> Grant:
        """Return the grant of a bearer token; raise AuthFailure when unknown or expired."""
        grant = self._grants.get(token)
        if grant is None:
            raise AuthFailure(401, "unauthorisedrequest", "The access token is not valid")
        if time.monotonic() >= grant.expires_at:
            raise AuthFailure(401, "unauthorisedrequest", "The access token has expired")
        return grant


class Nonces:
    """Recently used OAuth 1 nonces, so a signed request cannot be replayed."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()

    def use(self, key: tuple[str, str, str]) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 50000:
                self._seen = {k: t for k, t in self._seen.items()
                              if now - t < OAUTH1_WINDOW_S * 2}
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


def verify_oauth1(header: str, method: str, url: str, query: str, nonces: Nonces) -> Grant:
    """Check a two-legged OAuth 1.0a signature; return the grant or raise AuthFailure."""
    try:
        params = {k: unescape(v) for k, v in parse_authorization_header(header)}
    except ValueError:
        raise AuthFailure(401, "unauthorisedrequest", "Malformed OAuth Authorization header") \
            from None
    client_id = params.get("oauth_consumer_key", "")
    profile = PROFILES.get(client_id)
    if profile is None:
        raise AuthFailure(401, "unauthorisedrequest", "Unknown oauth_consumer_key")
    if not profile.oauth1:
        raise AuthFailure(401, "unauthorisedrequest", "This client uses OAuth 2 tokens")
    method_name = params.get("oauth_signature_method", "")
    sign = {"HMAC-SHA256": oauth1.sign_hmac_sha256_with_client,
            "HMAC-SHA1": oauth1.sign_hmac_sha1_with_client}.get(method_name)
    if sign is None:
        raise AuthFailure(401, "unauthorisedrequest",
                          f"Unsupported oauth_signature_method {method_name!r}")
    try:
        timestamp = int(params.get("oauth_timestamp", ""))
    except ValueError:
        raise AuthFailure(401, "unauthorisedrequest", "Missing oauth_timestamp") from None
    if abs(time.time() - timestamp) > OAUTH1_WINDOW_S:
        raise AuthFailure(401, "unauthorisedrequest", "oauth_timestamp is too far from now")
    collected = oauth1.collect_parameters(uri_query=query, headers={"Authorization": header},
                                          exclude_oauth_signature=True)
    base = oauth1.signature_base_string(method.upper(), oauth1.base_string_uri(url),
                                       oauth1.normalize_parameters(collected))
    expected = sign(base, SimpleNamespace(client_secret=SECRET, resource_owner_secret=""))
    if not hmac.compare_digest(expected, params.get("oauth_signature", "")):
        raise AuthFailure(401, "unauthorisedrequest", "The OAuth 1.0a signature does not match")
    if not nonces.use((client_id, params.get("oauth_nonce", ""), str(timestamp))):
        raise AuthFailure(401, "unauthorisedrequest", "This oauth_nonce was already used")
    return Grant(client_id, profile, frozenset(SCOPE_NAMES), float("inf"))
