"""The sandbox SIS: a OneRoster 1.2 and 1.1 server over a generated district, as a WSGI app."""

from __future__ import annotations

import base64
import binascii
import html
import json
import random
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from oneroster.normalize import DATA_TYPE, SINGULAR
from oneroster.sandbox.district import District
from oneroster.sandbox.profiles import PROFILES, SECRET, Profile
from oneroster.sandbox.query import (
    QueryError,
    parse_fields,
    parse_filter,
    sort_key,
)
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
CURSOR_WIDTH = 12  # digits of an offset inside an opaque cursor
DEFAULT_LIMIT = 100
JSON_TYPE = "application/json; charset=utf-8"


def imsx(status: int, code: str, description: str,
         headers: dict[str, str] | None = None) -> Response:
    """Return a OneRoster error answer (imsx_StatusInfo)."""
    body = {"imsx_codeMajor": "failure", "imsx_severity": "error",
            "imsx_description": description,
            "imsx_CodeMinor": {"imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code}
            ]}}
    return Response(json.dumps(body), status, headers, content_type=JSON_TYPE)


def _html(status: int, title: str, text: str) -> Response:
    page = (f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return Response(page, status, content_type="text/html; charset=utf-8")


class Stats:
    """How many requests of each kind each client made."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self.total = 0

    def add(self, client_id: str, kind: str) -> None:
        with self._lock:
            self._counts[(client_id, kind)] += 1

    def seen(self) -> None:
        with self._lock:
            self.total += 1

    def count(self, client_id: str | None = None, kind: str | None = None) -> int:
        """Return the number of requests, optionally of one client and one kind."""
        with self._lock:
            return sum(n for (c, k), n in self._counts.items()
                       if (client_id is None or c == client_id) and (kind is None or k == kind))


class Faults:
    """Random faults that never hit the same request twice in a row, so a retry succeeds."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._struck: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def strike(self, key: tuple[str, ...], rate: float) -> bool:
        with self._lock:
            if key in self._struck:
                self._struck.discard(key)
                return False
            if self._random.random() < rate:
                if len(self._struck) > 100000:
                    self._struck.clear()
                self._struck.add(key)
                return True
            return False

    def choice(self, options: tuple[str, ...]) -> str:
        with self._lock:
            return self._random.choice(options)


class RateWindow:
    """Requests per client over the last second (a sliding window)."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def over(self, client_id: str, limit: int) -> bool:
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(client_id, deque())
            while seen and now - seen[0] >= 1.0:
                seen.popleft()
            if len(seen) >= limit:
                return True
            seen.append(now)
            return False


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
        return _html(404, "404 Not Found", "There is nothing at this address.")

    def _token(self, request: Request, *, issuer: bool = False,
               at_base: bool = False) -> Response:
        if request.method != "POST":
            return self._oauth_error(405, "invalid_request", "Use POST")
        form = request.form
        credentials = basic_credentials(request.headers.get("Authorization"))
        if credentials is None:
            credentials = (form.get("client_id", ""), form.get("client_secret", ""))
        client_id, secret = credentials
        self.stats.add(client_id or "-", "token")
        if not client_id:
            return self._oauth_error(401, "invalid_client", "Client authentication is required: "
                                     "HTTP Basic, or client_id and client_secret in the body")
        quirk = self._token_quirk(request, PROFILES.get(client_id), issuer, at_base)
        if quirk is not None:
            return quirk
        if form.get("grant_type") != "client_credentials":
            return self._oauth_error(400, "unsupported_grant_type",
                                     "Only grant_type=client_credentials is supported")
        try:
            token, grant = self.tokens.issue(client_id, secret, form.get("scope"))
        except AuthFailure as failure:
            return self._oauth_error(failure.status, failure.code, str(failure))
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
            return _html(404, "404 Not Found", "There is nothing at this address.")
        if kind == "at-base" and not at_base:
            return self._oauth_error(405, "invalid_request", "Method Not Allowed")
        if kind == "redirect" and not issuer:
            issuer_root = self.issuer_url or request.root_url.replace("127.0.0.1", "localhost")
            return Response("", 307, {"Location": issuer_root.rstrip("/") + ISSUER_PATH})
        if kind == "scope" and not request.form.get("scope"):
            return self._oauth_error(400, "invalid_request", "scope is required")
        return None

    @staticmethod
    def _oauth_error(status: int, code: str, description: str) -> Response:
        headers = {"WWW-Authenticate": 'Basic realm="sandbox"'} if status == 401 else None
        return Response(json.dumps({"error": code, "error_description": description}), status,
                        headers, content_type=JSON_TYPE)

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
        if profile.rate_limit and self.rates.over(grant.client_id, profile.rate_limit):
            text = f"More than {profile.rate_limit} requests a second"
            if profile.html_429:
                busy = _html(429, "429 Too Many Requests", f"{text}: slow down.")
                busy.headers["Retry-After"] = "1"
                return busy
            return imsx(429, "server_busy", text, {"Retry-After": "1"})
        key = (grant.client_id, request.full_path)
        if profile.error_rate and self.faults.strike(("error", *key), profile.error_rate):
            return self._fault(request)
        name = parts[0]
        data_type = DATA_TYPE.get(name)
        if data_type is None or len(parts) > 2:
            return imsx(404, "unknownobject", f"There is no collection {'/'.join(parts)!r}")
        refusal = self._scope_refusal(grant, profile, name, data_type, version)
        if refusal is not None:
            return refusal
        try:
            if len(parts) == 1:
                response = self._collection(request, version, prefix, name, data_type, profile)
            else:
                response = self._single(request, version, prefix, name, data_type, parts[1],
                                        profile)
        except QueryError as error:
            return imsx(400, error.code, str(error))
        if profile.truncate_rate and response.status_code == 200 \
                and self.faults.strike(("cut", *key), profile.truncate_rate):
            body = response.get_data()
            response.set_data(body[:len(body) // 2])
        return response

    def _fault(self, request: Request) -> Response:
        kind = self.faults.choice(("503", "500", "502", "reset"))
        sock = request.environ.get("werkzeug.socket")
        if kind == "reset" and sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # the client sees the connection drop
            except OSError:
                pass
            return Response(b"", 500)
        if kind == "502":
            return _html(502, "502 Bad Gateway", "The upstream server did not answer.")
        if kind == "500":
            return imsx(500, "internal_server_error", "Something went wrong in the sandbox")
        return imsx(503, "server_busy", "The sandbox is busy; try again")

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

    def _collection(self, request: Request, version: str, prefix: str, name: str,
                    data_type: str, profile: Profile) -> Response:
        args = request.args
        limit = _number(args.get("limit"), DEFAULT_LIMIT, 1, "limit")
        offset = _number(args.get("offset"), 0, 0, "offset")
        if profile.link == "cursor" and args.get("cursor"):
            offset, limit = _cursor(args["cursor"])
        if profile.clamp:
            limit = min(limit, profile.clamp)
        if profile.ignore_offset:
            offset = 0
        order = args.get("orderBy", "asc")
        if order not in ("asc", "desc"):
            raise QueryError("invaliddata", "orderBy must be asc or desc")
        sort, expression, fields = args.get("sort"), args.get("filter"), args.get("fields")
        base = self._href_base(request, prefix, profile)
        district = self.district
        blobs = district.collection(data_type).served(version, base)
        subset = district.subsets.get(name)
        positions = subset[1] if subset else None
        key = DATA_TYPE[name].encode()
        if not expression and not fields and sort in (None, "", "sourcedId") and order == "asc":
            if positions is None:
                total = len(blobs)
                chosen = blobs[offset:offset + limit]
            else:
                total = len(positions)
                chosen = [blobs[i] for i in positions[offset:offset + limit]]
            body = b"".join((b'{"', key, b'":[', b",".join(chosen), b"]}"))  # one copy of a page
        else:
            selection = range(len(blobs)) if positions is None else positions
            records = [json.loads(blobs[i]) for i in selection]
            if expression:
                test = parse_filter(expression, data_type)
                records = [r for r in records if test(r)]
            if sort:
                records.sort(key=sort_key(sort, data_type), reverse=order == "desc")
            elif order == "desc":
                records.reverse()
            total = len(records)
            page = records[offset:offset + limit]
            if fields:
                chosen_fields = parse_fields(fields, data_type)
                page = [{f: r[f] for f in chosen_fields if f in r} for r in page]
            body = json.dumps({key.decode(): page}, ensure_ascii=False,
                              separators=(",", ":")).encode()
        headers = {}
        if profile.total_header:
            headers["X-Total-Count"] = str(profile.total_value(total))
        if profile.link == "cursor":
            if offset + limit < total:
                cursor = _opaque(offset + limit, limit)
                headers["Link"] = f'<{request.base_url}?cursor={cursor}>; rel="next"'
        elif profile.link != "none":
            headers["Link"] = _links(request, offset, limit, total, profile.link,
                                     relative=profile.relative)
        return Response(body, 200, headers, content_type=JSON_TYPE)

    @staticmethod
    def _href_base(request: Request, prefix: str, profile: Profile) -> bytes:
        """Return what hrefs start with: the Base URL, or only its path (relative hrefs)."""
        if profile.relative:
            return (request.script_root + prefix).encode()
        return (request.root_url.rstrip("/") + prefix).encode()

    def _single(self, request: Request, version: str, prefix: str, name: str, data_type: str,
                sourced_id: str, profile: Profile) -> Response:
        district = self.district
        collection = district.collection(data_type)
        position = collection.position(sourced_id)
        subset = district.subsets.get(name)
        if position is None or (subset is not None and position not in subset[1]):
            return imsx(404, "unknownobject", f"There is no {SINGULAR[data_type]} {sourced_id!r}")
        base = self._href_base(request, prefix, profile)
        blob = collection.served(version, base)[position]
        key = SINGULAR[data_type].encode()
        fields = request.args.get("fields")
        if fields:
            record = json.loads(blob)
            chosen = parse_fields(fields, data_type)
            blob = json.dumps({f: record[f] for f in chosen if f in record},
                              ensure_ascii=False, separators=(",", ":")).encode()
        return Response(b'{"' + key + b'":' + blob + b"}", 200, content_type=JSON_TYPE)

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


def _number(value: str | None, default: int, minimum: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise QueryError("invaliddata", f"{name} must be a whole number") from None
    if number < minimum:
        raise QueryError("invaliddata", f"{name} must be at least {minimum}")
    return number


def _opaque(offset: int, limit: int) -> str:
    """Return a cursor that does not show the offset it stands for."""
    raw = f"{offset:0{CURSOR_WIDTH}d}{limit:0{CURSOR_WIDTH}d}".encode()
    return base64.urlsafe_b64encode(bytes(b ^ 0x5A for b in raw)).decode().rstrip("=")


def _cursor(value: str) -> tuple[int, int]:
    """Return the offset and limit a cursor stands for."""
    try:
        raw = bytes(b ^ 0x5A for b in base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return int(raw[:CURSOR_WIDTH]), max(1, int(raw[CURSOR_WIDTH:]))
    except (ValueError, binascii.Error):
        raise QueryError("invaliddata", "cursor is not one this server gave out") from None


def _links(request: Request, offset: int, limit: int, total: int, style: str, *,
           relative: bool = False) -> str:
    """Return the Link header: first, prev, next and last pages, in the profile's style."""
    # The query is encoded once (as urlencode would); only the offset differs between links.
    query = {**request.args.to_dict(flat=True), "limit": limit, "offset": 0}
    names = list(query)
    cut = names.index("offset")

    def pair(name: str) -> str:
        return f"{quote(str(name), safe='')}={quote(str(query[name]), safe='')}"

    before = "".join(pair(name) + "&" for name in names[:cut])
    after = "".join("&" + pair(name) for name in names[cut + 1:])
    path = request.script_root + request.path if relative else request.base_url
    prefix = f"{path}?{before}offset="

    rels = [("first", 0)]
    if offset > 0:
        rels.append(("prev", max(0, offset - limit)))
    if offset + limit < total:
        rels.append(("next", offset + limit))
    rels.append(("last", ((total - 1) // limit) * limit if total else 0))
    if style == "bare":
        return ", ".join(f'{prefix}{o}{after}; rel="{rel}"' for rel, o in rels)
    return ", ".join(f'<{prefix}{o}{after}>; rel="{rel}"' for rel, o in rels)
