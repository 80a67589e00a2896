"""Response headers that keep pages from running or framing what SDM did not write."""

from __future__ import annotations

from flask import Flask, Response

# No inline script, style or handler anywhere: htmx runs from its file with
# includeIndicatorStyles off and without eval, SDM's own behaviour from static/app.js.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))


def init_app(app: Flask) -> None:
    """Add the security headers to every answer."""
    app.after_request(add_headers)


def add_headers(response: Response) -> Response:
    """Set CSP, no sniffing, no referrer to other sites and no framing, unless a view chose."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    return response
