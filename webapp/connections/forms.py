"""The connection form's values: reading them, pre-filling them from a provider template."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from webapp.models.connections import AuthMethod
from webapp.plugin_api import ProviderTemplate

FIELDS = ("name", "provider", "base_url", "client_id", "auth_url", "proxy_country",
          "oneroster_version", "auth_method", "signature_method", "scopes")
# Fields a provider template fills in; the others are always the person's own.
PREFILLED = ("base_url", "auth_url", "client_id", "oneroster_version", "auth_method", "scopes")
VERSIONS = ("1.2", "1.1")
PROXY_COUNTRIES = {"": "None: connect directly", "EU": "EU: through the EU proxy (GDPR)"}
AUTH_METHODS = tuple(AuthMethod)
# OAuth 1.0a only; some servers accept nothing but HMAC-SHA1.
SIGNATURE_METHODS = ("HMAC-SHA256", "HMAC-SHA1")
SECRET_FIELD = "client_secret"

_DOM_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Embed:
    """Where an embedded form came from: the selector to refresh and its field name."""

    selector: str = ""  # DOM id of the Connection Selector that opened the form
    field: str = "connection_id"  # name of the selector's <select>
    slot: str = ""  # DOM id of the element holding the form, emptied after a save

    @classmethod
    def from_request(cls, args: Mapping[str, str]) -> Embed | None:
        """Read the embedding parameters, or None when the form is a page of its own."""
        if args.get("embed") != "1":
            return None
        return cls(selector=_dom_id(args.get("selector")),
                   field=_dom_id(args.get("field")) or "connection_id",
                   slot=_dom_id(args.get("slot")))

    @property
    def form_id(self) -> str:
        """Return the form's DOM id, unique per selector so two embeds can share a page."""
        return f"{self.selector}-form" if self.selector else "connection-form"


def _dom_id(value: str | None) -> str:
    """Return value when it is a safe DOM id (it is echoed into HTML and headers), else ""."""
    return value if value and _DOM_ID.match(value) else ""


@dataclass
class FormState:
    """Everything the form template renders besides the request."""

    values: dict[str, str]
    template: ProviderTemplate
    errors: dict[str, str] = field(default_factory=dict)
    secret_dropped: bool = False  # a typed secret was not sent back after an error
    replace_secret: bool = False  # the "Replace secret" control starts open


def read(form: Mapping[str, str]) -> dict[str, str]:
    """Return the submitted values, trimmed; scopes normalised to single spaces."""
    values = {name: (form.get(name) or "").strip() for name in FIELDS}
    values["scopes"] = " ".join(values["scopes"].split())
    values["signature_method"] = values["signature_method"] or SIGNATURE_METHODS[0]
    return values


def read_secret(form: Mapping[str, str]) -> str:
    """Return the typed Client Secret, trimmed; empty when the field was left blank."""
    return (form.get(SECRET_FIELD) or "").strip()


def initial(template: ProviderTemplate, app_url: str) -> dict[str, str]:
    """Return the values of a new connection started from a template."""
    return {"name": "", "provider": template.id, "proxy_country": "",
            "signature_method": SIGNATURE_METHODS[0], **template.prefill(app_url)}


def switch_template(values: Mapping[str, str], old: ProviderTemplate | None,
                    new: ProviderTemplate, app_url: str) -> dict[str, str]:
    """Apply another template, keeping whatever the person typed over the old pre-fill."""
    old_fill = old.prefill(app_url) if old else {}
    new_fill = new.prefill(app_url)
    result = {name: values.get(name, "") for name in FIELDS}
    result["provider"] = new.id
    for name in PREFILLED:
        current = result[name]
        if not current or current == old_fill.get(name):
            result[name] = new_fill[name]
    return result
