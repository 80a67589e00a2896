"""Plugin manager, hook specifications and the registry of source and output plugins."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pluggy
from flask import Flask, current_app

from webapp.connections.providers import BUILTIN_TEMPLATES

PROJECT = "sdm"
ENTRY_POINT_GROUP = "sdm.plugins"
BUILTIN_PLUGINS = (
    "sdm_plugins.source_oneroster",
    "sdm_plugins.source_test_data",
    "sdm_plugins.output_oneroster_csv",
)

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class HookSpecs:
    @hookspec
    def sdm_source_plugins(self) -> list[type]:
        """Return the source plugin classes this plugin provides."""

    @hookspec
    def sdm_output_plugins(self) -> list[type]:
        """Return the output plugin classes this plugin provides."""

    @hookspec
    def sdm_provider_templates(self) -> list[Any]:
        """Return the connection provider templates this plugin provides."""

    @hookspec
    def sdm_init_app(self, app: Flask) -> None:
        """Attach what the plugin needs to the app (routes, middleware)."""


class DuplicatePlugin(RuntimeError):
    """Two plugins claim the same id."""


class Registry:
    """The plugins of one app, keyed by id."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self.sources: dict[str, type] = {}
        self.outputs: dict[str, type] = {}
        # The host's own provider templates first; a plugin may not reuse their ids.
        self.providers: dict[str, Any] = {t.id: t for t in BUILTIN_TEMPLATES}
        # pluggy answers the last registered plugin first: reversed, built-ins come first.
        for batch in reversed(manager.hook.sdm_source_plugins()):
            for cls in batch:
                self._add(self.sources, cls.id, cls, "source plugin")
        for batch in reversed(manager.hook.sdm_output_plugins()):
            for cls in batch:
                self._add(self.outputs, cls.id, cls, "output plugin")
        for batch in reversed(manager.hook.sdm_provider_templates()):
            for template in batch:
                self._add(self.providers, template.id, template, "provider template")

    @staticmethod
    def _add(table: dict, key: str, value: Any, what: str) -> None:
        if key in table:
            raise DuplicatePlugin(f"Two plugins register the {what} id {key!r}")
        table[key] = value

    def source(self, plugin_id: str) -> type:
        return self.sources[plugin_id]

    def output(self, plugin_id: str) -> type:
        return self.outputs[plugin_id]

    def connection_source(self, provider: str | None = None) -> type:
        """Return the source that reads a provider's connections: it runs their test.

        A provider template names its source; one that names none (the host's own templates)
        is read by the first registered source that uses saved connections.
        """
        template = self.providers.get(provider or "")
        named = getattr(template, "source", "")
        if named:
            return self.sources[named]
        return next(cls for cls in self.sources.values() if cls.uses_connection)


def make_manager(builtins: tuple[str, ...] = BUILTIN_PLUGINS,
                 entry_points: bool = True) -> pluggy.PluginManager:
    """Create a plugin manager with the built-in plugins and installed third-party ones."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(HookSpecs)
    for dotted in builtins:
        manager.register(import_module(dotted), name=dotted)
    if entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return manager


def init_app(app: Flask) -> None:
    """Give the app its own plugin manager and registry."""
    manager = make_manager(entry_points=app.config.get("PLUGIN_ENTRY_POINTS", True))
    app.extensions["sdm.plugins"] = Registry(manager)
    manager.hook.sdm_init_app(app=app)


def registry() -> Registry:
    """Return the current app's plugin registry."""
    return current_app.extensions["sdm.plugins"]
