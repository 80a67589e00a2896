"""The sandbox SIS: a OneRoster 1.2 and 1.1 server over a generated district, as a WSGI app.

This module routes requests, runs the token endpoint and checks each request's grant; the
pages of records are oneroster/sandbox/pages.py, the faults and rate limits a profile asks
for oneroster/sandbox/faults.py, the shapes of error answers oneroster/sandbox/answers.py.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Iterable

from werkzeug.wrappers import Request, Response

from oneroster.normalize import DATA_TYPE
from oneroster.sandbox.answers import JSON_TYPE, html_page, imsx, oauth_error
from oneroster.sandbox.district import District
from oneroster.sandbox.faults import Faults, RateWindow, Stats, fault_answer
from oneroster.sandbox.pages import collection_page, single_record
from oneroster.sandbox.profiles import PROFILES, SECRET, Profile
from oneroster.sandbox.query import QueryError
from oneroster.sandbox.security import (
    AuthFailure,
    Grant,
    Nonces,
    Tokens,
    basic_credentials,
    full_scope,
    verify_oauth1,
)

PATHS = {"1.2": "/ims/oneroster/rostering/v1p2", "1.1": "/ims/oneroster/v1p1"}
TOKEN_PATH = "/oauth/token"
ISSUER_PATH = "/oauth/issuer/token"  # where the token-redirect profile's endpoint sends it


class SandboxApp:
    """A OneRoster server over a generated district, with fault profiles per client_id."""

    def __init__(self, users: int = 600, latency_ms: float = 0.0, seed: int = 2026,
                 secret_key: bytes | str | None = None) -> None:
        self.users = users
        self.latency_s = latency_ms / 1000
        self.seed = seed
        # Signs its tokens; processes serving one sandbox share it (None: this process only).
        self.tokens = Tokens(secret_key)
        self.nonces = Nonces()
        self.stats = Stats()
        self.faults = Faults(seed)
        self.rates = RateWindow()
        self._district: District | None = None
        self._lock = threading.Lock()
        self.issuer_url: str | None = None  # another port serving this app, for redirects

    @property
    def district(self) -> District:
        """The district, generated on first use (app start stays fast)."""
        if self._district is None:
            with self._lock:
                if self._district is None:
                    self._district = District(self.users, self.seed)
        return self._district

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        request = Request(environ)
        self.stats.seen()
        if self.latency_s:
            time.sleep(self.latency_s)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Answer one request."""
        path = request.path.rstrip("/") or "/"
        if path == "/":
            return self._index(request)
        if path == TOKEN_PATH:
            return self._token(request)
        if path == ISSUER_PATH:
            return self._token(request, issuer=True)
        for version, prefix in PATHS.items():
            if path == prefix + "/token":
                return self._token(request, at_base=True)
            if path.startswith(prefix + "/"):
                parts = path[len(prefix) + 1:].split("/")
                return self._api(request, version, prefix, parts)
        return html_page(404, "404 Not Found", "There is nothing at this address.")

    def _token(self, request: Request, *, issuer: bool = False,
               at_base: bool = False) -> Response:
        if request.method != "POST":
            return oauth_error(405, "invalid_request", "Use POST")
        form = request.form
        credentials = basic_credentials(request.headers.get("Authorization"))
        if credentials is None:
            credentials = (form.get("client_id", ""), form.get("client_secret", ""))
        client_id, secret = credentials
        self.stats.add(client_id or "-", "token")
        if not client_id:
            return oauth_error(401, "invalid_client", "Client authentication is required: "
                                     "HTTP Basic, or client_id and client_secret in the body")
        quirk = self._token_quirk(request, PROFILES.get(client_id), issuer, at_base)
        if quirk is not None:
            return quirk
        if form.get("grant_type") != "client_credentials":
            return oauth_error(400, "unsupported_grant_type",
                                     "Only grant_type=client_credentials is supported")
        try:
            token, grant = self.tokens.issue(client_id, secret, form.get("scope"))
        except AuthFailure as failure:
            return oauth_error(failure.status, failure.code, str(failure))
        body = {"access_token": token, "token_type": "bearer",
                "expires_in": grant.profile.token_ttl,
                "scope": " ".join(full_scope(name) for name in sorted(grant.scopes))}
        return Response(json.dumps(body), 200, {"Cache-Control": "no-store"},
                        content_type=JSON_TYPE)

    def _token_quirk(self, request: Request, profile: Profile | None, issuer: bool,
                     at_base: bool) -> Response | None:
        """Answer as a profile's token endpoint would before issuing anything, if it differs."""
        kind = profile.token if profile is not None else "standard"
        if at_base and kind != "at-base":
            return html_page(404, "404 Not Found", "There is nothing at this address.")
        if kind == "at-base" and not at_base:
            return oauth_error(405, "invalid_request", "Method Not Allowed")
        if kind == "redirect" and not issuer:
            issuer_root = self.issuer_url or request.root_url.replace("127.0.0.1", "localhost")
            return Response("", 307, {"Location": issuer_root.rstrip("/") + ISSUER_PATH})
        if kind == "scope" and not request.form.get("scope"):
            return oauth_error(400, "invalid_request", "scope is required")
        return None

    def _authenticate(self, request: Request) -> Grant:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return self.tokens.check(header[7:].strip())
        if header[:6].lower() == "oauth ":
            return verify_oauth1(header, request.method, request.base_url,
                                 request.query_string.decode("latin-1"), self.nonces)
        raise AuthFailure(401, "unauthorisedrequest", "An access token is required")

    def _api(self, request: Request, version: str, prefix: str, parts: list[str]) -> Response:
        try:
            grant = self._authenticate(request)
        except AuthFailure as failure:
            self.stats.add("-", "refused")
            return imsx(failure.status, failure.code, str(failure),
                        {"WWW-Authenticate": 'Bearer realm="sandbox"'})
        profile = grant.profile
        self.stats.add(grant.client_id, "data")
        if profile.latency_s:
            time.sleep(profile.latency_s)
        if request.method != "GET":
            return imsx(405, "invaliddata", "The sandbox only reads")
        busy = self._busy(grant.client_id, profile)
        if busy is not None:
            return busy
        key = (grant.client_id, request.full_path)
        if profile.error_rate and self.faults.strike(("error", *key), profile.error_rate):
            return fault_answer(request, self.faults)
        name = parts[0]
        data_type = DATA_TYPE.get(name)
        if data_type is None or len(parts) > 2:
            return imsx(404, "unknownobject", f"There is no collection {'/'.join(parts)!r}")
        refusal = self._scope_refusal(grant, profile, name, data_type, version)
        if refusal is not None:
            return refusal
        try:
            if len(parts) == 1:
                response = collection_page(request, self.district, version, prefix, name,
                                           data_type, profile)
            else:
                response = single_record(request, self.district, version, prefix, name,
                                         data_type, parts[1], profile)
        except QueryError as error:
            return imsx(400, error.code, str(error))
        if profile.truncate_rate and response.status_code == 200 \
                and self.faults.strike(("cut", *key), profile.truncate_rate):
            body = response.get_data()
            response.set_data(body[:len(body) // 2])
        return response

    def _busy(self, client_id: str, profile: Profile) -> Response | None:
        """Answer 429 when a rate-limited profile asks more often than its limit."""
        if not profile.rate_limit or not self.rates.over(client_id, profile.rate_limit):
            return None
        text = f"More than {profile.rate_limit} requests a second"
        if profile.html_429:
            busy = html_page(429, "429 Too Many Requests", f"{text}: slow down.")
            busy.headers["Retry-After"] = "1"
            return busy
        return imsx(429, "server_busy", text, {"Retry-After": "1"})

    @staticmethod
    def _scope_refusal(grant: Grant, profile: Profile, name: str, data_type: str,
                       version: str) -> Response | None:
        if name in profile.forbidden or data_type in profile.forbidden:
            scope = full_scope("roster.readonly", version)
            return imsx(403, "forbidden", f"The access token lacks the scope {scope} needed to "
                        f"read {name}")
        if data_type == "demographics":
            needed = {"roster-demographics.readonly"}
        else:
            needed = {"roster.readonly", "roster-core.readonly"}
        if not needed & grant.scopes:
            scope = full_scope(sorted(needed)[0], version)
            return imsx(403, "forbidden", f"The access token lacks the scope {scope} needed to "
                        f"read {name}")
        return None

    def _index(self, request: Request) -> Response:
        root = request.root_url
        rows = "".join(f"<tr><td><code>{p.name}</code></td><td>{html.escape(p.description)}"
                       "</td></tr>" for p in PROFILES.values())
        page = (
            "<!doctype html><html><head><title>SDM sandbox SIS</title></head><body>"
            "<h1>SDM sandbox SIS</h1><p>A OneRoster server with generated data.</p><ul>"
            f"<li>OneRoster 1.2: <code>{root}{PATHS['1.2'][1:]}</code></li>"
            f"<li>OneRoster 1.1: <code>{root}{PATHS['1.1'][1:]}</code></li>"
            f"<li>Token URL: <code>{root}{TOKEN_PATH[1:]}</code></li>"
            f"<li>Client Secret for every profile: <code>{SECRET}</code></li></ul>"
            f"<table><tr><th>Client ID</th><th>Behaviour</th></tr>{rows}</table></body></html>"
        )
        return Response(page, 200, content_type="text/html; charset=utf-8")
