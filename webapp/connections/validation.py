"""Validation of the connection form: one specific message per field that is wrong."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func

from webapp.connections.egress import egress_problem
from webapp.connections.forms import PROXY_COUNTRIES, SIGNATURE_METHODS, VERSIONS
from webapp.extensions import db
from webapp.inputs import control_problem
from webapp.models import AuthMethod, Connection
from webapp.plugin_api import ProviderTemplate
from webapp.tenancy import scoped

NAME_MAX = 100
URL_MAX = 500
CLIENT_ID_MAX = 255
SECRET_MAX = 4000
SCOPES_MAX = 1000
SCOPE_MAX = 255


def is_loopback(host: str) -> bool:
    """Tell whether a host name is this machine: localhost, 127.0.0.0/8 or ::1."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(value: str, *, label: str, allow_query: bool) -> str | None:
    """Return what is wrong with a server URL, or None when it is acceptable."""
    if len(value) > URL_MAX:
        return f"Keep the {label} under {URL_MAX} characters (it has {len(value)})."
    if any(ch.isspace() for ch in value) or any(ord(ch) < 32 for ch in value):
        return f"The {label} cannot contain spaces or line breaks."
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if not scheme or not parts.netloc:
        return (f"Enter the full {label}, starting with https://, "
                "e.g. https://sis.example.org/ims/oneroster/rostering/v1p2.")
    if scheme not in ("http", "https"):
        return f"The {label} must start with https:// (not {scheme}://)."
    if parts.username is not None or parts.password is not None:
        return (f"Remove the user name and password from the {label}: "
                "credentials belong in Client ID and Client Secret.")
    host = parts.hostname or ""
    if not host:
        return f"The {label} has no host name."
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return f"The port in the {label} is not a number between 1 and 65535."
    if parts.fragment or value.endswith("#"):
        return f"Remove the “#…” part: the {label} cannot contain a fragment."
    if not allow_query and (parts.query or value.endswith("?")):
        return f"Remove the “?…” part: SDM adds its own query parameters to the {label}."
    if scheme == "http" and not is_loopback(host) and not current_app.config["ALLOW_HTTP"]:
        return (f"Use https:// for the {label}. Plain http:// is only allowed for this "
                "computer (localhost, 127.0.0.1, ::1).")
    return egress_problem(value)


def moves_secret(values: Mapping[str, str], connection: Connection) -> bool:
    """Tell whether edited values would send the stored secret to another origin."""
    from webapp.connections.services import connection_values, secret_destinations

    try:
        return not secret_destinations(values) <= secret_destinations(
            connection_values(connection))
    except ValueError:
        return False  # a URL that does not parse has its own message


def name_taken(name: str, connection: Connection | None) -> bool:
    """Tell whether another connection of the active organization has this name."""
    query = scoped(Connection).where(func.lower(Connection.name) == name.lower())
    if connection is not None:
        query = query.where(Connection.id != connection.id)
    return db.session.scalar(query) is not None


def validate(values: Mapping[str, str], *, secret: str, template: ProviderTemplate | None,
             connection: Connection | None = None, check_name: bool = True) -> dict[str, str]:
    """Return field name -> message for every field that is wrong; empty when all are fine.

    A blank secret is fine when editing (it keeps the stored one) and when the template has a
    demo secret. check_name=False skips the name, for testing values that are not saved.
    """
    errors: dict[str, str] = {}
    if check_name and (problem := _name_problem(values["name"], connection)):
        errors["name"] = problem
    keeps_provider = connection is not None and values["provider"] == connection.provider
    if template is None and not keeps_provider:
        errors["provider"] = "Choose a provider template from the list."
    errors.update(_url_problems(values, template))
    if problem := _client_id_problem(values["client_id"]):
        errors["client_id"] = problem
    if problem := _secret_problem(values, secret, template, connection):
        errors["client_secret"] = problem
    if values["proxy_country"] not in PROXY_COUNTRIES:
        errors["proxy_country"] = "Choose no proxy, or EU."
    if values["oneroster_version"] not in VERSIONS:
        errors["oneroster_version"] = "Choose OneRoster 1.2 or 1.1."
    if values["auth_method"] not in {m.value for m in AuthMethod}:
        errors["auth_method"] = "Choose a client authentication method from the list."
    if values.get("signature_method", SIGNATURE_METHODS[0]) not in SIGNATURE_METHODS:
        errors["signature_method"] = "Choose HMAC-SHA256 or HMAC-SHA1."
    if problem := _scopes_problem(values["scopes"]):
        errors["scopes"] = problem
    for field, value in (*values.items(), ("client_secret", secret)):
        if problem := control_problem(value):
            errors[field] = problem  # said here rather than as a bare 400 page
    return errors


def _url_problems(values: Mapping[str, str], template: ProviderTemplate | None
                  ) -> dict[str, str]:
    found: dict[str, str] = {}
    if not values["base_url"]:
        found["base_url"] = "Enter the Base URL your SIS provider gave you."
    elif problem := url_problem(values["base_url"], label="Base URL", allow_query=False):
        found["base_url"] = problem
    if values["auth_url"]:
        if problem := url_problem(values["auth_url"], label="Auth URL", allow_query=True):
            found["auth_url"] = problem
    elif template is not None and template.auth_url_required:
        found["auth_url"] = (f"{template.name} issues a token URL to each school: "
                              "enter the Auth URL you received.")
    return found


def _name_problem(name: str, connection: Connection | None) -> str | None:
    if not name:
        return "Enter a name for this connection."
    if len(name) > NAME_MAX:
        return f"Keep the name under {NAME_MAX} characters (it has {len(name)})."
    if problem := control_problem(name):
        return problem  # not looked up: PostgreSQL refuses NUL even in a query
    if name_taken(name, connection):
        return (f"Another connection in this organization is already called “{name}”. "
                "Choose a different name.")
    return None


def _client_id_problem(client_id: str) -> str | None:
    if not client_id:
        return "Enter the Client ID."
    if len(client_id) > CLIENT_ID_MAX:
        return f"Keep the Client ID under {CLIENT_ID_MAX} characters (it has {len(client_id)})."
    if any(ord(ch) < 32 for ch in client_id):
        return "The Client ID cannot contain line breaks or tabs."
    return None


def _secret_problem(values: Mapping[str, str], secret: str, template: ProviderTemplate | None,
                    connection: Connection | None) -> str | None:
    if not secret and connection is None and not (template and template.demo_secret):
        return "Enter the Client Secret."
    if not secret and connection is not None and moves_secret(values, connection):
        return ("The Base URL or Auth URL now leads to another server: type the Client Secret "
                "again. SDM sends a saved secret only to the server it was saved for.")
    if len(secret) > SECRET_MAX:
        return f"Keep the Client Secret under {SECRET_MAX} characters."
    return None


def _scopes_problem(scopes: str) -> str | None:
    if len(scopes) > SCOPES_MAX:
        return f"Keep the scopes under {SCOPES_MAX} characters in all (they have {len(scopes)})."
    if any(ord(ch) < 32 for ch in scopes):
        return "Separate scopes with spaces; they cannot contain control characters."
    if any(len(scope) > SCOPE_MAX for scope in scopes.split()):
        return f"Each scope must be under {SCOPE_MAX} characters."
    return None
