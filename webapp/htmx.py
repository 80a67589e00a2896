"""What SDM answers htmx with, in one place: redirects, poll answers, alerts, swaps, events.

No view writes an ``HX-*`` header or a polling status itself; they come from here, so every
poll ends the same way and every redirect has the same status.

- A poll's fragment that is final carries no trigger and is answered with STOP_POLLING (286):
  removing the trigger stops polling in every htmx version, 286 is the belt to those braces.
  A poll whose answer did not change gets UNCHANGED (204), which htmx does not swap.
- After a change, `go(url)` sends the browser on: ``HX-Redirect`` with status 204 for htmx,
  a 303 otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import redirect
from flask.typing import ResponseReturnValue
from htmx_flask import request

STOP_POLLING = 286
UNCHANGED = 204
REDIRECT = 204  # the status of every HX-Redirect answer (htmx ignores its empty body)
ALERTS = "#alerts"  # the page's alert region (base.html)
HX_REQUEST = "HX-Request"  # the request header that makes an answer a fragment: Vary on it


def go(url: str) -> ResponseReturnValue:
    """Send the browser to a URL after a change: HX-Redirect for htmx, 303 otherwise."""
    if request.htmx:
        return "", REDIRECT, {"HX-Redirect": url}
    return redirect(url, 303)


def poll_answer(body: str, *, final: bool, status: int = 200,
                headers: Mapping[str, str] | None = None) -> ResponseReturnValue:
    """Answer a poll with its fragment: STOP_POLLING once final (for htmx), else `status`."""
    return body, STOP_POLLING if final and request.htmx else status, dict(headers or {})


def unchanged() -> ResponseReturnValue:
    """Answer a poll whose fragment would not change: nothing to swap."""
    return "", UNCHANGED


def retarget(selector: str, swap: str = "outerHTML") -> dict[str, str]:
    """Return the headers that put an answer somewhere other than the request's target."""
    return {"HX-Retarget": selector, "HX-Reswap": swap}


def to_alerts() -> dict[str, str]:
    """Return the headers that show an answer in the page's alert region."""
    return retarget(ALERTS, "innerHTML")


def trigger(event: str | Mapping[str, Any]) -> dict[str, str]:
    """Return the header that fires an event (a name, or names with details) on the page."""
    return {"HX-Trigger": event if isinstance(event, str) else json.dumps(event)}


def push_url(url: str) -> dict[str, str]:
    """Return the header that adds a URL to the browser's history."""
    return {"HX-Push-Url": url}


def replace_url(url: str) -> dict[str, str]:
    """Return the header that replaces the address bar's URL without a history entry."""
    return {"HX-Replace-Url": url}


def current_path() -> str:
    """Return the path of the page htmx sent the request from ('' when not htmx)."""
    return urlsplit(request.headers.get("HX-Current-URL", "")).path
