"""The work behind the connection pages: settings for the client, saving, status, audit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app

from plugins.source_oneroster.model import ClientSettings
from webapp import audit, crypto
from webapp.connections.providers import ProviderTemplate
from webapp.extensions import db
from webapp.models import Connection
from webapp.plugins import registry


def provider_templates() -> list[ProviderTemplate]:
    """Return the registered provider templates in display order."""
    return sorted(registry().providers.values(), key=lambda t: (t.order, t.name))


def provider_template(provider_id: str | None) -> ProviderTemplate | None:
    """Return the registered template with this id, or None."""
    return registry().providers.get(provider_id or "")


def provider_name(provider_id: str) -> str:
    """Return a template's display name; the raw id when it is no longer registered."""
    template = provider_template(provider_id)
    return template.name if template else provider_id


def _proxies() -> dict[str, str]:
    """Map proxy countries to the forward proxies configured as SDM_PROXY_<COUNTRY>."""
    return {"EU": current_app.config["PROXY_EU"]} if current_app.config.get("PROXY_EU") else {}


def settings_from_values(values: Mapping[str, Any], *, secret: str,
                         time_budget: float | None = None) -> ClientSettings:
    """Build client settings from form values that are not saved (nothing touches the DB).

    `values` holds the connection form's fields: base_url, client_id, auth_url, proxy_country,
    oneroster_version, auth_method, scopes (space-separated text or a sequence), provider.
    """
    scopes = values.get("scopes") or ()
    if isinstance(scopes, str):
        scopes = scopes.split()
    auth_url = (values.get("auth_url") or "").strip() or None
    template = provider_template(values.get("provider"))
    if auth_url is None and template is not None:
        auth_url = template.token_url_for(values["base_url"])
    config = current_app.config
    return ClientSettings(
        base_url=values["base_url"],
        client_id=values["client_id"],
        client_secret=secret,
        auth_url=auth_url,
        auth_method=str(values.get("auth_method") or "oauth2_basic"),
        scopes=tuple(scopes),
        version=values.get("oneroster_version") or "1.2",
        proxy_country=values.get("proxy_country") or None,
        proxies=_proxies(),
        page_size=config["PAGE_SIZE"],
        max_in_flight=config["MAX_IN_FLIGHT"],
        time_budget=time_budget,
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


def client_settings(connection: Connection, *, reason: str, time_budget: float | None = None,
                    actor_id: int | None = None, commit: bool = True) -> ClientSettings:
    """Return the client settings of a saved connection, decrypting its secret (audited)."""
    values = connection_values(connection)
    secret = stored_secret(connection, reason=reason, actor_id=actor_id, commit=commit)
    return settings_from_values(values, secret=secret, time_budget=time_budget)
