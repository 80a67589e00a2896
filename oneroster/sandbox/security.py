"""The sandbox's credentials: client-credentials tokens with scopes, and OAuth 1.0a signatures."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import unquote

from oauthlib.oauth1.rfc5849 import signature as oauth1
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header, unescape

from oneroster.sandbox.profiles import PROFILES, SECRET, Profile

SCOPE_NAMES = ("roster-core.readonly", "roster.readonly", "roster-demographics.readonly")
SCOPE_PREFIXES = ("https://purl.imsglobal.org/spec/or/v1p2/scope/",
                  "https://purl.imsglobal.org/spec/or/v1p1/scope/")
OAUTH1_WINDOW_S = 600  # accepted clock difference for oauth_timestamp


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
    expires_at: float  # epoch seconds


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
    """Access tokens that carry their own grant, signed: any worker process can check them.

    The app may run in several processes (gunicorn workers); a token issued by one must be
    good in all, so nothing about it is stored, only the signing key is shared.
    """

    def __init__(self, key: bytes | str | None = None) -> None:
        if isinstance(key, str):
            key = key.encode()
        self._key = hmac.new(key, b"sdm-sandbox-tokens", hashlib.sha256).digest() if key \
            else secrets.token_bytes(32)
        self._lock = threading.Lock()
        self.issued: dict[str, int] = {}  # per client_id, in this process

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
                      time.time() + profile.token_ttl)
        payload = json.dumps({"c": client_id, "s": sorted(grant.scopes), "e": grant.expires_at,
                              "n": secrets.token_hex(8)}, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).rstrip(b"=")
        token = (body + b"." + self._sign(body)).decode()
        with self._lock:
            self.issued[client_id] = self.issued.get(client_id, 0) + 1
        return token, grant

    def check(self, token: str) -> Grant:
        """Return the grant of a bearer token; raise AuthFailure when forged or expired."""
        body, _, signature = token.encode().partition(b".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            raise AuthFailure(401, "unauthorisedrequest", "The access token is not valid")
        data = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        if time.time() >= data["e"]:
            raise AuthFailure(401, "unauthorisedrequest", "The access token has expired")
        return Grant(data["c"], PROFILES[data["c"]], frozenset(data["s"]), data["e"])

    def _sign(self, body: bytes) -> bytes:
        digest = hmac.new(self._key, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=")


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
    if method_name not in profile.signatures:  # as such servers say: nothing about why
        raise AuthFailure(401, "invalid_signature", "invalid_signature")
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
