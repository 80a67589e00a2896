"""Serve the sandbox on its own: a threaded HTTP server, in a background thread if need be."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from plugins.source_oneroster.model import ClientSettings
from plugins.source_oneroster.sandbox.app import PATHS, TOKEN_PATH, SandboxApp
from plugins.source_oneroster.sandbox.profiles import PROFILES, SECRET


class QuietHandler(WSGIRequestHandler):
    """Do not log every request: benchmarks make thousands."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the access log."""


def make(app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> BaseWSGIServer:
    """Return a threaded server for the app (port 0: any free port)."""
    return make_server(host, port, app, threaded=True, request_handler=QuietHandler)


@dataclass
class RunningSandbox:
    """A sandbox serving in a background thread, and the URLs and credentials to reach it."""

    app: SandboxApp
    server: BaseWSGIServer
    thread: threading.Thread = field(repr=False)

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
        oauth1 = PROFILES[profile].oauth1
        values: dict[str, Any] = {
            "base_url": self.base_url_v1p1 if oauth1 else self.base_url,
            "client_id": profile, "client_secret": SECRET,
            "auth_url": None if oauth1 else self.token_url,
            "auth_method": "oauth1" if oauth1 else "oauth2_basic",
            "version": "1.1" if oauth1 else "1.2",
        }
        values.update(changes)
        return ClientSettings(**values)

    def close(self) -> None:
        """Stop serving and wait for the server thread."""
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
    return RunningSandbox(app, server, thread)
