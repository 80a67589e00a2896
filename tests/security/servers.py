"""Loopback HTTP servers of the security tests' own, which record everything they receive."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    """What the server answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: object, status: int = 200) -> Reply:
        """Answer with a JSON document."""
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


Script = Callable[[Received], Reply]


class Recorder:
    """A running server: its base URL and the requests it received."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.received: list[Received] = []
        self.port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"


@contextmanager
def serve(script: Script) -> Iterator[Recorder]:
    """Serve `script` on a free loopback port until the block ends."""
    recorder: Recorder

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            got = Received(self.command, self.path, dict(self.headers.items()),
                           self.rfile.read(length) if length else b"")
            recorder.received.append(got)
            reply = script(got)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder = Recorder(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


TOKEN = {"access_token": "sis-bearer-token-4b1d", "token_type": "bearer", "expires_in": 3600}
