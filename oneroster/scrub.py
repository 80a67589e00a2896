"""Keep secrets out of every message: the forms a secret takes, and their removal.

A Client Secret, a proxy password or a bearer token can show up literally, URL- or
form-encoded, JSON-escaped, inside HTTP Basic's Base64, in a URL's query, or cut short at
the end of a clipped server message; each is replaced by [redacted].
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from oneroster.model import OneRosterError

REDACTED = "[redacted]"
_SENSITIVE_PARAMS = re.compile(r"secret|token|password|signature|key|auth", re.IGNORECASE)


def safe_url(url: str | None) -> str | None:
    """Return a URL without user info and with sensitive query values redacted."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if query:
        pairs = [(k, REDACTED if _SENSITIVE_PARAMS.search(k) else v)
                 for k, v in parse_qsl(query, keep_blank_values=True)]
        query = urlencode(pairs, safe="'*,:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def secret_forms(secret: str, client_id: str | None = None) -> set[str]:
    """Return every form a secret can take on the wire or in a message.

    The literal, URL- and form-encoded, JSON-escaped, and with a Client ID the Base64 of
    `id:secret` that HTTP Basic sends (plain and with both parts form-encoded first, as
    RFC 6749 asks).
    """
    if not secret:
        return set()
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    if client_id is not None:
        for pair in (f"{client_id}:{secret}", f"{quote_plus(client_id)}:{quote_plus(secret)}"):
            encoded = base64.b64encode(pair.encode("utf-8", "replace")).decode()
            forms.update({encoded, encoded.rstrip("=")})
    return {form for form in forms if len(form) >= 4}


def scrub(text: str | None, secrets: Iterable[str]) -> str | None:
    """Replace every secret occurring in a text, longest first."""
    if not text:
        return text
    forms = sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True)
    for secret in forms:
        text = text.replace(secret, REDACTED)
    if text.endswith("…"):
        text = _scrub_cut(text[:-1], forms) + "…"
    return text


def _scrub_cut(text: str, forms: list[str]) -> str:
    """Redact the start of a secret left at the end of a text that was cut short."""
    for secret in forms:
        for length in range(len(secret) - 1, 3, -1):
            if text.endswith(secret[:length]):
                return text[:-length] + REDACTED
    return text


def scrub_error(error: OneRosterError, secrets: Iterable[str]) -> OneRosterError:
    """Remove secrets from every text field of an error, in place."""
    secrets = tuple(secrets)
    error.message = scrub(error.message, secrets) or ""
    error.server_message = scrub(error.server_message, secrets)
    error.url = scrub(safe_url(error.url), secrets)
    error.args = (error.message,)
    return error
