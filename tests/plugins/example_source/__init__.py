"""source-example: a small third-party source plugin, as a package outside SDM would ship it.

It knows the host only through the contract (webapp.plugin_api) and the hook marker of the
``sdm`` project; the tests install it through the ``sdm.plugins`` entry-point group.
Its provider template, "Example SIS", names the plugin's source that reads saved connections:
a connection of that provider is tested by that source's check.
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("sdm")


@hookimpl
def sdm_source_plugins() -> list[type]:
    from tests.plugins.example_source.source import ExampleConnectedSource, ExampleSource

    return [ExampleSource, ExampleConnectedSource]


@hookimpl
def sdm_provider_templates() -> list:
    from tests.plugins.example_source.source import PROVIDER

    return [PROVIDER]
