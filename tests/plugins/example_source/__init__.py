"""source-example: a small third-party source plugin, as a package outside SDM would ship it.

It knows the host only through the contract (webapp.plugin_api) and the hook marker of the
``sdm`` project; the tests install it through the ``sdm.plugins`` entry-point group.
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("sdm")


@hookimpl
def sdm_source_plugins() -> list[type]:
    from tests.plugins.example_source.source import ExampleSource

    return [ExampleSource]
