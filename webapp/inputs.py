"""Limits on what a request may carry: body size and characters no field can hold."""

from __future__ import annotations

import re

from flask import Flask, abort, current_app, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# NUL and the other C0 controls (but tab, line feed and carriage return) and DEL: no form
# field or query parameter of SDM holds them, and PostgreSQL refuses NUL in text.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
EXCERPT = 40
FIELD_MESSAGE = ("This field holds a control character (such as NUL) that no field accepts. "
                 "Remove it and try again.")
MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds, on SQLite and PostgreSQL alike
MAX_PAGE = 100_000


class FieldRefused(BadRequest):
    """A request refused for what one of its fields holds. On a page, the form that sent it
    shows FIELD_MESSAGE next to `field` (a form field's name; None for a query parameter)."""

    def __init__(self, field: str | None, description: str) -> None:
        super().__init__(description)
        self.field = field


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: ids beyond what a column holds match no route (404)."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Cap request bodies and refuse control characters before any view reads them."""
    app.url_map.converters["int"] = IdConverter
    app.config["MAX_CONTENT_LENGTH"] = int(float(app.config["MAX_BODY_MB"]) * 1024 * 1024)
    app.config.setdefault("MAX_FORM_MEMORY_SIZE", 500 * 1024)
    app.before_request(refuse_control_characters)


def excerpt(text: str, length: int = EXCERPT) -> str:
    """Return at most a short beginning of something a person sent, to show back."""
    text = CONTROL.sub("", text)
    return text if len(text) <= length else text[:length - 1] + "…"


def page_number(name: str = "page") -> int:
    """Return the page a query asks for: 1 when absent or not a number, 400 when too far."""
    raw = (request.args.get(name) or "").strip()
    if not raw.isascii() or not raw.isdigit():
        return 1
    if len(raw) > 6 or int(raw) > MAX_PAGE:
        abort(400, description=f"There is no page {excerpt(raw, 20)}: pages go up to "
                               f"{MAX_PAGE} at most.")
    return max(1, int(raw))


def id_value(raw: str | None) -> int | None:
    """Return an id typed into a query parameter, or None when it cannot be one."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= MAX_ID:
        return int(raw)
    return None


def field_with_control_characters() -> str | None:
    """Return the name of the first query or form field holding a control character."""
    sources = [request.args]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(request.form)
    for source in sources:
        for name, value in source.items(multi=True):
            if CONTROL.search(name) or CONTROL.search(value):
                return name
    return None


def checks_fields(*names: str):
    """Mark a view that refuses control characters in these form fields itself, with a
    message next to the field on its form.

    The request reaches the view when only these fields hold one; control characters in
    any other field (hidden ones included), in query parameters or in field names are
    refused before any view, as everywhere.
    """
    def mark(view):
        view.checks_control_characters = frozenset(names)
        return view

    return mark


def control_problem(value: str | None) -> str | None:
    """Return the field message for a value holding a control character, else None."""
    return FIELD_MESSAGE if value and CONTROL.search(value) else None


def without_control(value: str) -> str:
    """Return a value with its control characters removed, to show back on a form."""
    return CONTROL.sub("", value)


def _fields_the_view_checks() -> frozenset[str]:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "checks_control_characters", frozenset())


def _only_checked_fields_hold_them() -> bool:
    """Tell whether every control character is in a form value the view checks itself."""
    checked = _fields_the_view_checks()
    if not checked or any(CONTROL.search(k) or CONTROL.search(v)
                          for k, v in request.args.items(multi=True)):
        return False
    return all(name in checked for name, value in request.form.items(multi=True)
               if CONTROL.search(name) or CONTROL.search(value))


def refuse_control_characters() -> None:
    """Answer 400 naming the field when a value holds NUL or another control character.

    Views marked with `checks_fields` get form values through and say so next to the field.
    """
    if CONTROL.search(request.path):
        abort(400, description="The address holds a control character.")
    name = field_with_control_characters()
    if name is not None and request.form and _only_checked_fields_hold_them():
        return
    if name is not None:
        raise FieldRefused(name if name in request.form else None,
                           f"The field “{excerpt(name, 30)}” holds a control character "
                           "(such as NUL) that no field accepts. Remove it and try again.")
