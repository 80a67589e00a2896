"""The work behind the connection pages: settings for the client, saving, status, audit."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func

from webapp import audit, crypto
from webapp.connections.egress import egress_policy
from webapp.connections.forms import (
    FIELDS,
)
from webapp.connections.providers import DEFAULT_PROVIDER
from webapp.extensions import db
from webapp.models import Connection, Organization, Status, User
from webapp.models.common import utcnow
from webapp.models.connections import TESTED_FIELDS
from webapp.plugin_api import (
    ConnectionDetails,
    ProviderTemplate,
    SourceConfig,
    SourcePlugin,
    SourceUnavailable,
)
from webapp.plugins import registry
from webapp.tenancy import scoped

# Changing any of these (or replacing the secret) makes the last test meaningless.
RESETS_STATUS = frozenset(TESTED_FIELDS)


def provider_templates() -> list[ProviderTemplate]:
    """Return the registered provider templates in display order."""
    return sorted(registry().providers.values(), key=lambda t: (t.order, t.name))


def provider_template(provider_id: str | None) -> ProviderTemplate | None:
    """Return the registered template with this id, or None."""
    return registry().providers.get(provider_id or "")


def template_or_default(provider_id: str | None) -> ProviderTemplate:
    """Return the template with this id, falling back to Custom."""
    return provider_template(provider_id) or registry().providers[DEFAULT_PROVIDER]


def provider_name(provider_id: str) -> str:
    """Return a template's display name; the raw id when it is no longer registered."""
    template = provider_template(provider_id)
    return template.name if template else provider_id


def proxies() -> dict[str, str]:
    """Map proxy countries to the forward proxies configured as SDM_PROXY_<COUNTRY>."""
    return {"EU": current_app.config["PROXY_EU"]} if current_app.config.get("PROXY_EU") else {}


def _origin(url: str) -> tuple[str, str, int | None]:
    """Return a URL's scheme, host and port: what must match for a secret to follow."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80,
                                                                   "https": 443}.get(scheme)


def token_url(values: Mapping[str, Any]) -> str | None:
    """Return the token URL form values lead to: the Auth URL, or the template's default."""
    auth_url = (values.get("auth_url") or "").strip() or None
    template = provider_template(values.get("provider"))
    if auth_url is None and template is not None:
        auth_url = template.token_url_for(values["base_url"])
    return auth_url


def secret_destinations(values: Mapping[str, Any]) -> set[tuple[str, str, int | None]]:
    """Return the origins a secret is sent to with these values: API and token endpoint."""
    base = values.get("base_url") or ""
    # With the Auth URL blank, every token address tried is on the Base URL's server.
    return {_origin(base), _origin(token_url(values) or base)}


def details_from_values(values: Mapping[str, Any], *, secret: str,
                        time_budget: float | None = None) -> ConnectionDetails:
    """Build a source's connection details from unsaved form values (nothing touches the DB).

    `values` holds the connection form's fields: base_url, client_id, auth_url, proxy_country,
    oneroster_version, auth_method, scopes (space-separated text or a sequence), provider.
    """
    scopes = values.get("scopes") or ()
    if isinstance(scopes, str):
        scopes = scopes.split()
    auth_url = token_url(values)
    config = current_app.config
    return ConnectionDetails(
        base_url=values["base_url"],
        client_id=values["client_id"],
        client_secret=secret,
        auth_url=auth_url,
        auth_method=str(values.get("auth_method") or "oauth2_basic"),
        signature_method=values.get("signature_method") or "HMAC-SHA256",
        scopes=tuple(scopes),
        version=values.get("oneroster_version") or "1.2",
        proxy_country=values.get("proxy_country") or None,
        proxies=proxies(),
        page_size=config["PAGE_SIZE"],
        max_in_flight=config["MAX_IN_FLIGHT"],
        decode_processes=config["DECODE_PROCESSES"],
        time_budget=time_budget,
        egress=egress_policy(),
    )


def connection_values(connection: Connection) -> dict[str, str]:
    """Return a saved connection's form values (never the secret)."""
    return {
        "name": connection.name,
        "provider": connection.provider,
        "base_url": connection.base_url,
        "client_id": connection.client_id,
        "auth_url": connection.auth_url or "",
        "proxy_country": connection.proxy_country or "",
        "oneroster_version": connection.oneroster_version,
        "auth_method": str(connection.auth_method),
        "signature_method": connection.signature_method or "HMAC-SHA256",
        "scopes": connection.scopes or "",
    }


def stored_secret(connection: Connection, *, reason: str, actor_id: int | None = None,
                  commit: bool = True) -> str:
    """Decrypt a connection's secret and record the decryption, with its reason, in the audit log.

    The audit event is committed at once (unless commit=False) so that it survives a caller
    that later rolls back, as a failing job does.
    """
    secret = crypto.decrypt(connection.client_secret_encrypted)
    audit.record("connection.secret_decrypted",
                 f"Client secret of connection “{connection.name}” decrypted: {reason}",
                 organization_id=connection.organization_id, target=connection,
                 actor_id=actor_id, reason=reason)
    if commit:
        db.session.commit()
    return secret


def connection_details(connection: Connection, *, reason: str,
                       time_budget: float | None = None, actor_id: int | None = None,
                       commit: bool = True) -> ConnectionDetails:
    """Return what a source needs of a saved connection, decrypting its secret (audited)."""
    values = connection_values(connection)
    secret = stored_secret(connection, reason=reason, actor_id=actor_id, commit=commit)
    return details_from_values(values, secret=secret, time_budget=time_budget)


def source_config(cls: type[SourcePlugin], options: Mapping[str, Any], *,
                  organization_id: int | None, reason: str, budget: float,
                  actor_id: int | None = None) -> SourceConfig:
    """Return what a source's check or pre-flight needs: options and the connection named."""
    connection = _named_connection(cls, options, organization_id, reason=reason,
                                   time_budget=budget, actor_id=actor_id)
    return SourceConfig(dict(options), connection, organization_id, budget)


def open_source(cls: type[SourcePlugin], options: Mapping[str, Any], *,
                organization_id: int | None, reason: str, time_budget: float | None = None,
                actor_id: int | None = None) -> SourcePlugin:
    """Create a source for a node's options, handing it the saved connection they name.

    ConfigInvalid for options the plugin refuses; SourceUnavailable for a secret that can no
    longer be read. A connection that is gone is handed over as None: the source says so.
    """
    plugin = cls(options, organization_id=organization_id)
    plugin.connection = _named_connection(cls, plugin.config, organization_id, reason=reason,
                                          time_budget=time_budget, actor_id=actor_id)
    return plugin


def _named_connection(cls: type[SourcePlugin], options: Mapping[str, Any],
                      organization_id: int | None, *, reason: str,
                      time_budget: float | None, actor_id: int | None,
                      ) -> ConnectionDetails | None:
    if not cls.uses_connection or options.get("connection_id") in (None, ""):
        return None
    try:
        connection_id = int(options["connection_id"])
    except (TypeError, ValueError):
        return None
    connection = db.session.scalar(db.select(Connection).where(
        Connection.id == connection_id, Connection.organization_id == organization_id))
    if connection is None:
        return None
    try:
        return connection_details(connection, reason=reason, time_budget=time_budget,
                                  actor_id=actor_id)
    except crypto.SecretUnreadable as error:
        raise SourceUnavailable("Secret unreadable", str(error),
                                ("Edit the connection and enter the Client Secret again",)
                                ) from error


def list_connections() -> list[Connection]:
    """Return the active organization's connections, by name."""
    return list(db.session.scalars(scoped(Connection).order_by(func.lower(Connection.name))))


def list_signature(connections: list[Connection]) -> str:
    """Return a short key that changes whenever anything the list shows changes."""
    parts = "|".join(f"{c.id}:{c.name}:{c.status}:{c.last_tested_at}:{c.updated_at}:"
                     f"{c.test_job_id}:{c.summary}" for c in connections)
    return hashlib.sha1(parts.encode()).hexdigest()[:12]


def reset_status(connection: Connection) -> None:
    """Forget the last test: the connection is Configured until a new test says otherwise.

    test_job_id is cleared too, so a test still running on the old values can tell that its
    result no longer applies.
    """
    connection.status = Status.CONFIGURED
    connection.test_summary = None
    connection.last_tested_at = None
    connection.last_tested_by_id = None
    connection.test_job_id = None


def _column_values(values: Mapping[str, str]) -> dict[str, str | None]:
    """Map form values to column values (blank optional fields stored as NULL)."""
    columns = {name: values[name] for name in FIELDS}
    columns["auth_url"] = values["auth_url"] or None
    columns["proxy_country"] = values["proxy_country"] or None
    return columns


def create_connection(values: Mapping[str, str], *, secret: str, organization: Organization,
                      created_by: User) -> Connection:
    """Save a new, Configured connection with its secret encrypted; audit it."""
    if not secret:
        secret = template_or_default(values["provider"]).demo_secret
    connection = Connection(organization_id=organization.id, created_by_id=created_by.id,
                            client_secret_encrypted=crypto.encrypt(secret),
                            secret_set_at=utcnow(), status=Status.CONFIGURED,
                            **_column_values(values))
    db.session.add(connection)
    db.session.flush()
    audit.record("connection.created", f"Created connection “{connection.name}”",
                 organization_id=organization.id, target=connection,
                 provider=connection.provider, host=connection.host)
    db.session.commit()
    return connection


def update_connection(connection: Connection, values: Mapping[str, str], *,
                      secret: str) -> list[str]:
    """Apply edited values (a blank secret keeps the stored one); return what changed."""
    changes = {}
    for name, new in _column_values(values).items():
        old = getattr(connection, name)
        old = str(old) if old is not None else None
        if old != new:
            changes[name] = [old, new]
            setattr(connection, name, new)
    changed = list(changes)
    if secret:
        connection.client_secret_encrypted = crypto.encrypt(secret)
        connection.secret_set_at = utcnow()
        changed.append("client_secret")
        audit.record("connection.secret_replaced",
                     f"Replaced the client secret of connection “{connection.name}”",
                     organization_id=connection.organization_id, target=connection)
    if secret or RESETS_STATUS.intersection(changes):
        reset_status(connection)
    if changes:
        audit.record("connection.edited",
                     f"Edited connection “{connection.name}”: {', '.join(changes)}",
                     organization_id=connection.organization_id, target=connection,
                     fields=list(changes), changes=changes)
    db.session.commit()
    return changed


def delete_connection(connection: Connection) -> None:
    """Delete a connection and its encrypted secret; audit it."""
    audit.record("connection.deleted", f"Deleted connection “{connection.name}”",
                 organization_id=connection.organization_id, target=connection,
                 name=connection.name, provider=connection.provider, host=connection.host)
    db.session.delete(connection)
    db.session.commit()


def connection_event(connection: Connection) -> dict[str, Any]:
    """Return the detail of the "connection-created" event embedding pages react to."""
    status = Status(connection.status)
    return {"id": connection.id, "name": connection.name, "provider": connection.provider,
            "status": status.value, "status_label": status.label}


def update_message(connection: Connection, changed: list[str]) -> str:
    """Return the flash message after an edit, saying when the status went back."""
    if not changed:
        return f"No changes to “{connection.name}”."
    message = f"Connection “{connection.name}” saved."
    if "client_secret" in changed or RESETS_STATUS.intersection(changed):
        message += " Its status is back to Configured: test it again."
    return message
