"""The answers every part of the sandbox gives: OneRoster errors, OAuth errors, HTML pages."""

from __future__ import annotations

import html
import json

from werkzeug.wrappers import Response

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


def html_page(status: int, title: str, text: str) -> Response:
    """Return a small HTML page, as web servers and gateways answer errors."""
    page = (f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return Response(page, status, content_type="text/html; charset=utf-8")


def oauth_error(status: int, code: str, description: str) -> Response:
    """Return an OAuth 2 token endpoint's error answer (RFC 6749, section 5.2)."""
    headers = {"WWW-Authenticate": 'Basic realm="sandbox"'} if status == 401 else None
    return Response(json.dumps({"error": code, "error_description": description}), status,
                    headers, content_type=JSON_TYPE)
