"""Serve the sandbox on its own: a lean threaded HTTP/1.1 server, in a background thread if need be.

Benchmarks send thousands of requests for pages of a thousand records; the server's own work
per request adds to every request's latency, so it does as little as it can: connections are
kept alive, one thread serves each, a request head is parsed in a few string operations and
an answer goes out in one write.
"""

from __future__ import annotations

import io
import logging
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from oneroster.egress import EgressPolicy
from oneroster.model import ClientSettings
from oneroster.sandbox.app import PATHS, TOKEN_PATH, SandboxApp
from oneroster.sandbox.profiles import PROFILES, SECRET

log = logging.getLogger(__name__)

MAX_LINE = 65536
MAX_HEADERS = 100
IDLE_TIMEOUT_S = 30.0  # an idle kept-alive connection is closed after this long
HOP_BY_HOP = frozenset(("connection", "keep-alive", "transfer-encoding", "content-length"))
WSGIApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


class BadRequest(Exception):
    """A request this server cannot read; the connection is closed after a 400."""


class Connection(socketserver.StreamRequestHandler):
    """Serve the requests of one connection, one after another, until either side closes it."""

    timeout = IDLE_TIMEOUT_S
    server: SandboxServer

    def setup(self) -> None:
        super().setup()
        self.server.opened(self.connection)

    def finish(self) -> None:
        self.server.closed(self.connection)
        try:
            super().finish()
        except OSError:
            pass  # the client is gone: nothing left to flush

    def handle(self) -> None:
        host, port = self.server.server_address[:2]
        base = {
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "werkzeug.socket": self.connection, "SCRIPT_NAME": "", "SERVER_NAME": str(host),
            "SERVER_PORT": str(port), "REMOTE_ADDR": str(self.client_address[0]),
            "REMOTE_PORT": str(self.client_address[1]),
        }
        try:
            while self._one(base):
                pass
        except (OSError, TimeoutError):
            pass  # the client closed, reset or went quiet: the connection ends

    def _one(self, base: dict[str, Any]) -> bool:
        """Answer one request; return whether the connection stays open."""
        line = self.rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # stray line breaks between requests
            line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return False
        try:
            environ, keep = self._environ(base, line)
        except BadRequest:
            self.connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                    b"Connection: close\r\n\r\n")
            return False
        status, headers, body = self._call(environ)
        head = [f"HTTP/1.1 {status}\r\n"]
        head += [f"{name}: {value}\r\n" for name, value in headers
                 if name.lower() not in HOP_BY_HOP]
        head.append(f"Content-Length: {len(body)}\r\n")
        head.append("\r\n" if keep else "Connection: close\r\n\r\n")
        if environ["REQUEST_METHOD"] == "HEAD":
            body = b""
        self._send(("".join(head)).encode("latin-1"), body)
        return keep

    def _send(self, head: bytes, body: bytes) -> None:
        """Write head and body with one system call when the socket takes it all."""
        sent = self.connection.sendmsg([head, body])
        if sent < len(head):
            self.connection.sendall(head[sent:])
            sent = len(head)
        if sent - len(head) < len(body):
            self.connection.sendall(memoryview(body)[sent - len(head):])

    def _environ(self, base: dict[str, Any], line: bytes) -> tuple[dict[str, Any], bool]:
        """Read a request's head and body into a WSGI environ; say whether to keep alive."""
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            raise BadRequest() from None
        if len(line) > MAX_LINE or not version.startswith("HTTP/1."):
            raise BadRequest()
        environ = dict(base)
        self._headers(environ)
        tokens = environ.get("HTTP_CONNECTION", "").lower()
        keep = "close" not in tokens and (version == "HTTP/1.1" or "keep-alive" in tokens)
        if target.startswith(("http://", "https://")):  # absolute form, as proxies send it
            parts = urlsplit(target)
            path, query = parts.path or "/", parts.query
            environ.setdefault("HTTP_HOST", parts.netloc)
        else:
            path, _, query = target.partition("?")
        environ.update({
            "REQUEST_METHOD": method, "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query, "REQUEST_URI": target, "RAW_URI": target,
            "SERVER_PROTOCOL": version, "wsgi.input": io.BytesIO(self._body(environ)),
        })
        return environ, keep

    def _headers(self, environ: dict[str, Any]) -> None:
        """Read a request's header lines into the environ, as WSGI names them."""
        for _ in range(MAX_HEADERS + 1):
            header = self.rfile.readline(MAX_LINE + 1)
            if header in (b"\r\n", b"\n", b""):
                return
            name, colon, value = header.decode("latin-1").partition(":")
            if not colon or len(header) > MAX_LINE:
                raise BadRequest()
            if "_" in name:
                continue  # as other WSGI servers: such a name would pass for another one
            key = name.strip().upper().replace("-", "_")
            value = value.strip()
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
                if key in environ:
                    value = f"{environ[key]},{value}"
            environ[key] = value
        raise BadRequest()

    def _body(self, environ: dict[str, Any]) -> bytes:
        if environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            chunks = []
            while size := int(self.rfile.readline(MAX_LINE).split(b";")[0] or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline(MAX_LINE)
            while self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            body = b"".join(chunks)
            environ["CONTENT_LENGTH"] = str(len(body))
            return body
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise BadRequest() from None
        return self.rfile.read(length) if length > 0 else b""

    def _call(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """Run the app; return its status, headers and whole body (500 if it fails)."""
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            started[:] = [status, headers]
            return lambda data: None  # the sandbox never writes outside its answer

        try:
            chunks = self.server.app(environ, start_response)
            try:
                body = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            status, headers = started
        except Exception:
            log.exception("the sandbox failed on %s", environ.get("REQUEST_URI"))
            return "500 Internal Server Error", [], b""
        return status, headers, body


class SandboxServer(socketserver.ThreadingTCPServer):
    """A threaded HTTP/1.1 server for a WSGI app, with connections kept alive."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: WSGIApp) -> None:
        self.app = app
        self.accepted = 0  # connections served so far
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, Connection)

    def opened(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self.accepted += 1
            self._open.add(sock)

    def closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def server_close(self) -> None:
        """Stop listening and end the connections still open: a stopped sandbox answers none."""
        super().server_close()
        with self._lock:
            still_open, self._open = list(self._open), set()
        for sock in still_open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def make(app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Return a threaded server for the app (port 0: any free port)."""
    return SandboxServer((host, port), app)


@dataclass
class RunningSandbox:
    """A sandbox serving in a background thread, and the URLs and credentials to reach it."""

    app: SandboxApp
    server: SandboxServer
    thread: threading.Thread = field(repr=False)
    issuer: SandboxServer | None = field(default=None, repr=False)  # the same app, another port

    @property
    def url(self) -> str:
        """The root URL, ending in a slash."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def base_url(self) -> str:
        """The OneRoster 1.2 Base URL."""
        return self.url + PATHS["1.2"][1:]

    @property
    def base_url_v1p1(self) -> str:
        return self.url + PATHS["1.1"][1:]

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH[1:]

    secret: str = SECRET

    def settings(self, profile: str = "demo", **changes: Any) -> ClientSettings:
        """Return client settings for one of the sandbox's profiles."""
        if profile not in PROFILES:
            raise ValueError(f"The sandbox has no profile {profile!r}")
        chosen = PROFILES[profile]
        oauth1, v1p1 = chosen.oauth1, chosen.version == "1.1"
        values: dict[str, Any] = {
            "base_url": self.base_url_v1p1 if v1p1 else self.base_url,
            "client_id": profile, "client_secret": SECRET,
            "auth_url": None if oauth1 or chosen.token == "at-base" else self.token_url,
            "auth_method": "oauth1" if oauth1 else "oauth2_basic",
            "version": chosen.version,
            "egress": EgressPolicy(allow_loopback=True),  # the sandbox listens on loopback
        }
        values.update(changes)
        return ClientSettings(**values)

    def close(self) -> None:
        """Stop serving and wait for the server thread."""
        if self.issuer is not None:
            self.issuer.shutdown()
            self.issuer.server_close()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve_in_thread(app: SandboxApp | None = None, *, host: str = "127.0.0.1", port: int = 0,
                    users: int = 300, latency_ms: float = 0.0) -> RunningSandbox:
    """Start a sandbox in a background thread; the district is built before it returns."""
    app = app or SandboxApp(users=users, latency_ms=latency_ms)
    app.district  # noqa: B018 - build it now, not during the first request
    server = make(app, host, port)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-sis", daemon=True)
    thread.start()
    issuer = serve_issuer(app, host)
    return RunningSandbox(app, server, thread, issuer)


def serve_issuer(app: SandboxApp, host: str = "127.0.0.1") -> SandboxServer:
    """Serve the app on a second free port too: where token-redirect sends token requests."""
    issuer = make(app, host, 0)
    threading.Thread(target=issuer.serve_forever, name="sandbox-issuer", daemon=True).start()
    issuer_host, issuer_port = issuer.server_address[:2]
    app.issuer_url = f"http://{issuer_host}:{issuer_port}/"
    return issuer
