"""Credentials: OAuth 2 client credentials with one shared token; the auth method's choice.

Credentials that need no token endpoint (a static bearer, OAuth 1.0a signing) are in
oneroster/signing.py.
"""

from __future__ import annotations

import json
import math
import threading
import time
from urllib.parse import urljoin, urlsplit, urlunsplit

from requests.auth import AuthBase, HTTPBasicAuth

from oneroster.errors import (
    classify_token_status,
    looks_like_html,
    safe_url,
    scrub_error,
    server_message,
)
from oneroster.http import Answer, Transport, origin
from oneroster.model import (
    SCOPE_CORE,
    Category,
    ClientSettings,
    OneRosterError,
    TokenInfo,
    scope_url,
)
from oneroster.signing import Bearer, OAuth1Signer, StaticBearer

DEFAULT_LIFETIME = 3600.0  # when the token endpoint does not say
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


def default_token_url(base_url: str) -> str:
    """Return the token URL to use when none is given: /oauth/token beside the OneRoster path."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    marker = path.find("/ims/oneroster")
    prefix = path[:marker] if marker >= 0 else path
    return urlunsplit((parts.scheme, parts.netloc, prefix + "/oauth/token", "", ""))


def token_url_candidates(base_url: str, version: str) -> tuple[str, ...]:
    """Return the token URLs to try, in order, when the Auth URL is blank.

    First /oauth/token beside the OneRoster path, then at the origin, then (OneRoster 1.1)
    Base URL + /token, where some 1.1 servers have it.
    """
    parts = urlsplit(base_url)
    found = [default_token_url(base_url),
             urlunsplit((parts.scheme, parts.netloc, "/oauth/token", "", ""))]
    if version == "1.1":
        found.append(urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/token",
                                 "", "")))
    return tuple(dict.fromkeys(found))


def demands_scope(status: int, body: bytes) -> bool:
    """Tell whether a token endpoint's refusal says a scope is needed."""
    if status != 400:
        return False
    return "scope" in (server_message(body) or "").lower()


def token_failure(answer: Answer, url: str, scopes: tuple[str, ...],
                  version: str) -> OneRosterError:
    """Name a token request's failure; a demanded scope is said as such."""
    if demands_scope(answer.status, answer.body) and not _refused_scope(answer.body):
        core = scope_url(SCOPE_CORE, version)
        asked = f" (SDM asked for {' '.join(scopes)})" if scopes else ""
        return OneRosterError(
            Category.FORBIDDEN,
            f"The token endpoint requires a scope{asked}: enter the scopes this client was "
            f"granted, for example {core}", status=answer.status,
            server_message=server_message(answer.body, answer.content_type),
            url=safe_url(url), missing_scope=core)
    return classify_token_status(answer.status, answer.body, answer.content_type, url=url,
                                 scopes=scopes)


def _refused_scope(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("error") == "invalid_scope"


def _not_a_token_endpoint(answer: Answer) -> bool:
    """Tell whether a default address is plainly not a token endpoint (try the next one)."""
    return answer.status in (404, 405) or (
        answer.status >= 400 and looks_like_html(answer.content_type, answer.body))


class _NotHere(Exception):
    """A default token address that is not a token endpoint."""


def refresh_margin(lifetime: float) -> float:
    """Return how long before expiry a token is replaced: a tenth of its life, at most 60 s."""
    return min(60.0, lifetime / 10)


class OAuth2Credentials:
    """Client-credentials tokens, cached for the client and refreshed by one thread at a time."""

    refreshable = True

    def __init__(self, settings: ClientSettings, transport: Transport) -> None:
        self.settings = settings
        self.transport = transport
        self.candidates = token_url_candidates(settings.base_url, settings.version)
        self.token_url = settings.auth_url or self.candidates[0]
        self.used_url: str | None = None  # where the last token came from
        self.found = False  # a default address answered as a token endpoint
        self.added_scopes: tuple[str, ...] = ()  # asked for because the endpoint demands one
        self.notes: list[str] = []  # what finding the token endpoint took, for the checklist
        self._lock = threading.Lock()
        self._token: str | None = None
        self._info: TokenInfo | None = None
        self._refresh_at = 0.0
        self._attempts = 0
        self._failure: OneRosterError | None = None
        self.issued = 0  # tokens obtained so far, for progress and tests

    @property
    def info(self) -> TokenInfo | None:
        """The details of the last token obtained, if any."""
        return self._info

    def token(self, cancel: threading.Event | None = None) -> TokenInfo:
        """Return the current token's details, obtaining a token when needed."""
        self._current(cancel)
        assert self._info is not None
        return self._info

    def authorizer(self, cancel: threading.Event | None) -> tuple[AuthBase, str]:
        token = self._current(cancel)
        return Bearer(token), token

    def invalidate(self, used: str | None) -> None:
        """Forget a token the server refused, unless another thread already replaced it."""
        with self._lock:
            if used is not None and self._token == used:
                self._token = None

    def _current(self, cancel: threading.Event | None) -> str:
        token = self._token
        if token is not None and time.monotonic() < self._refresh_at:
            return token
        attempts = self._attempts
        with self._lock:
            if self._token is not None and time.monotonic() < self._refresh_at:
                return self._token
            if self._attempts != attempts and self._failure is not None:
                raise _copy(self._failure)  # it failed while this thread waited: no stampede
            self._attempts += 1
            try:
                self._token = self._request(cancel)
            except OneRosterError as error:
                self._failure = error if error.category != Category.CANCELLED else None
                raise
            self._failure = None
            return self._token

    def _request(self, cancel: threading.Event | None) -> str:
        """Obtain a token: from the Auth URL, or from the documented defaults in turn."""
        if self.settings.auth_url or self.found:
            return self._request_at(self.token_url, cancel)
        misses: list[str] = []
        for url in self.candidates:
            try:
                token = self._request_at(url, cancel, probing=True)
            except _NotHere as miss:
                misses.append(f"{safe_url(url)} ({miss})")
                self.notes.append(f"Tried {safe_url(url)}: {miss}")
                continue
            self.token_url, self.found = url, True
            return token
        raise OneRosterError(
            Category.TOKEN_UNREACHABLE,
            "No token endpoint answered at the default addresses (the Auth URL is blank). "
            f"SDM tried {'; '.join(misses)}. Enter the token URL your provider documents as "
            "the Auth URL", url=safe_url(self.candidates[-1]))

    def _request_at(self, url: str, cancel: threading.Event | None,
                    probing: bool = False) -> str:
        settings = self.settings
        scopes = settings.scopes or self.added_scopes
        answer, url = self._post(url, scopes, cancel)
        if not 200 <= answer.status < 300:
            if probing and _not_a_token_endpoint(answer):
                raise _NotHere(f"HTTP {answer.status}")
            if demands_scope(answer.status, answer.body) and not scopes:
                core = (scope_url(SCOPE_CORE, settings.version),)
                self.added_scopes = core
                self.notes.append("The token endpoint requires a scope: SDM asked for "
                                  f"{SCOPE_CORE}.")
                answer, url = self._post(url, core, cancel)
                scopes = core
            if not 200 <= answer.status < 300:
                raise scrub_error(token_failure(answer, url, scopes, settings.version),
                                  self.transport.secrets)
        self.used_url = url
        return self._accept(answer)

    def _post(self, url: str, scopes: tuple[str, ...],
              cancel: threading.Event | None) -> tuple[Answer, str]:
        """POST the token request, following redirects within the same origin only."""
        settings = self.settings
        data = {"grant_type": "client_credentials"}
        if scopes:
            data["scope"] = " ".join(scopes)
        auth = None
        if settings.auth_method == "oauth2_body":
            data.update(client_id=settings.client_id, client_secret=settings.client_secret)
        else:
            auth = HTTPBasicAuth(settings.client_id, settings.client_secret)
        for _hop in range(MAX_REDIRECTS + 1):
            answer, _ = self.transport.send("POST", url, data=data, auth=auth, token_phase=True,
                                            cancel=cancel, redirects=False)
            location = answer.headers.get("Location")
            if answer.status not in REDIRECTS or not location:
                return answer, url
            target = urljoin(url, location)
            if origin(target) != origin(url):
                raise OneRosterError(
                    Category.TOKEN_UNREACHABLE,
                    f"The token endpoint {safe_url(url)} redirects to {safe_url(target)}, on "
                    "another server. SDM does not send the Client Secret there: if that is "
                    "your provider's token endpoint, enter it as the Auth URL",
                    status=answer.status, url=safe_url(url))
            self.notes.append(f"{safe_url(url)} redirected to {safe_url(target)} (same "
                              "server): followed.")
            url = target
        raise OneRosterError(Category.TOKEN_UNREACHABLE, f"The token endpoint {safe_url(url)} "
                             f"redirected more than {MAX_REDIRECTS} times", url=safe_url(url))

    def _accept(self, answer: Answer) -> str:
        """Read a token out of a 2xx answer and remember what it grants."""
        payload = self._payload(answer.body, answer.content_type)
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise self._invalid("The token endpoint's answer has no access_token")
        self.transport.add_secret(token)
        lifetime = _lifetime(payload.get("expires_in"))
        scope = payload.get("scope")
        if isinstance(scope, str):
            scopes: tuple[str, ...] | None = tuple(scope.split())
        elif isinstance(scope, list):
            scopes = tuple(str(s) for s in scope)
        else:
            scopes = None
        self._info = TokenInfo(expires_at=time.time() + lifetime, scopes=scopes,
                               token_type=str(payload.get("token_type") or "bearer").lower())
        self._refresh_at = time.monotonic() + lifetime - refresh_margin(lifetime)
        self.issued += 1
        return token

    def _payload(self, body: bytes, content_type: str) -> dict:
        if looks_like_html(content_type, body):
            raise OneRosterError(Category.TOKEN_UNREACHABLE, "The Auth URL answered with a web "
                                 "page: it does not look like an OAuth 2 token endpoint",
                                 url=safe_url(self.token_url))
        try:
            payload = json.loads(body)
        except ValueError:
            raise self._invalid("The token endpoint's answer is not JSON") from None
        if not isinstance(payload, dict):
            raise self._invalid("The token endpoint's answer is not a JSON object")
        return payload

    def _invalid(self, message: str) -> OneRosterError:
        return OneRosterError(Category.INVALID_RESPONSE, message, url=safe_url(self.token_url))


def _lifetime(value: object) -> float:
    try:
        lifetime = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME
    return lifetime if lifetime > 0 and math.isfinite(lifetime) else DEFAULT_LIFETIME


def _copy(error: OneRosterError) -> OneRosterError:
    return OneRosterError(error.category, error.message, entity=error.entity,
                          status=error.status, server_message=error.server_message,
                          url=error.url, missing_scope=error.missing_scope)


def make_credentials(settings: ClientSettings,
                     transport: Transport) -> OAuth2Credentials | StaticBearer | OAuth1Signer:
    """Return the credentials for the connection's auth method."""
    method = str(settings.auth_method)
    if method in ("oauth2_basic", "oauth2_body"):
        return OAuth2Credentials(settings, transport)
    if method == "oauth1":
        return OAuth1Signer(settings)
    if method == "bearer":
        return StaticBearer(settings)
    raise ValueError(f"Unknown auth method {method!r}")
