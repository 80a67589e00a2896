"""source-oneroster: hook implementations."""

from __future__ import annotations

from typing import Any

import pluggy

# The same marker as webapp.plugins.hookimpl, made here so that importing the client, the
# sandbox or a benchmark does not import the whole web app.
hookimpl = pluggy.HookimplMarker("sdm")

SANDBOX_PREFIX = "/sandbox"


@hookimpl
def sdm_source_plugins() -> list[type]:
    from sdm_plugins.source_oneroster.source import OneRosterSource

    return [OneRosterSource]


@hookimpl
def sdm_provider_templates() -> list[Any]:
    """Return the "Sandbox (demo SIS)" template: the built-in SIS, pre-filled."""
    from oneroster.sandbox import PROFILES, SECRET
    from webapp.plugin_api import AuthMethod, ProviderTemplate

    return [ProviderTemplate(
        id="sandbox",
        name="Sandbox (demo SIS)",
        description="The OneRoster SIS built into SDM, with a generated school district.",
        help=(
            "The sandbox is a OneRoster 1.2 server inside SDM, serving a generated district "
            "(schools, terms, courses, classes, teachers, students, enrollments). Try every "
            "feature with it before connecting a real SIS.",
            "Leave the Client Secret blank: the sandbox's own secret is filled in. The Client "
            "ID chooses how the sandbox behaves, so you can see how SDM copes with the quirks "
            "of real servers.",
            "The oauth1 profile serves OneRoster 1.1 with OAuth 1.0a signing: use the Base "
            "URL ending in /ims/oneroster/v1p1, version 1.1 and OAuth 1.0a under Advanced.",
        ),
        client_ids=tuple((p.name, p.description) for p in PROFILES.values()),
        base_url="{app_url}sandbox/ims/oneroster/rostering/v1p2",
        auth_url="{app_url}sandbox/oauth/token",
        auth_url_hint="The sandbox's token endpoint, already filled in.",
        client_id="demo",
        demo_secret=SECRET,
        version="1.2",
        auth_method=AuthMethod.OAUTH2_BASIC,
        order=5,
    )]


@hookimpl
def sdm_init_app(app: Any) -> None:
    """Serve the sandbox SIS under /sandbox when it is enabled; otherwise offer no template."""
    if not app.config.get("SANDBOX"):
        app.extensions["sdm.plugins"].providers.pop("sandbox", None)
        return
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from oneroster.sandbox import SandboxApp

    sandbox = SandboxApp(users=int(app.config.get("SANDBOX_USERS") or 600),
                         secret_key=app.config["SECRET_KEY"])  # shared by every worker
    app.extensions["sdm.sandbox"] = sandbox
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {SANDBOX_PREFIX: sandbox})
