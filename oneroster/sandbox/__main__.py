"""Run the sandbox SIS on its own: python -m oneroster.sandbox --port 8100."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from oneroster.sandbox.app import ISSUER_PATH, PATHS, TOKEN_PATH, SandboxApp
from oneroster.sandbox.profiles import PROFILES, SECRET
from oneroster.sandbox.server import make, serve_issuer


def main(argv: list[str] | None = None) -> None:
    """Build the district, print one JSON line with the URLs, then serve until stopped."""
    parser = argparse.ArgumentParser(prog="python -m oneroster.sandbox",
                                     description="A OneRoster sandbox SIS over generated data.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100, help="0 picks a free port")
    parser.add_argument("--users", type=int, default=600, help="size of the district")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="added to every request, like network distance")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    app = SandboxApp(users=args.users, latency_ms=args.latency_ms, seed=args.seed)
    district = app.district
    server = make(app, args.host, args.port)
    serve_issuer(app, args.host)
    host, port = server.server_address[:2]
    root = f"http://{host}:{port}/"
    for collection in district.collections.values():  # ready-made for this address
        collection.served("1.2", (root + PATHS["1.2"][1:]).encode())
    print(json.dumps({
        "url": root, "base_url": root + PATHS["1.2"][1:], "base_url_v1p1": root + PATHS["1.1"][1:],
        "token_url": root + TOKEN_PATH[1:], "client_ids": list(PROFILES), "secret": SECRET,
        "issuer_token_url": (app.issuer_url or root) + ISSUER_PATH[1:],
        "records": district.counts(), "build_s": round(district.build_s, 2),
    }), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
