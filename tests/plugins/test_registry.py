"""The plugin registry: built-ins by dotted name, third-party plugins by entry point, no twins."""

from __future__ import annotations

import textwrap
import uuid

import pytest

from webapp import create_app
from webapp.plugin_api import SourcePlugin
from webapp.plugins import DuplicatePlugin, Registry, hookimpl, make_manager


def install_distribution(path, source_ids: list[str]) -> str:
    """Write an installed distribution (dist-info with an sdm.plugins entry point) on a path."""
    module = f"sdm_fake_plugin_{uuid.uuid4().hex[:8]}"
    classes = "\n".join(textwrap.dedent(f"""
        class Source{i}(SourcePlugin):
            id = {plugin_id!r}
            name = "Fake source {i}"
            def check(self): ...
            def preflight(self): ...
            def sample(self, entities, limit=5): ...
            def read(self, entities, *, sink, progress=None, cancel=None, since=None): ...
        """) for i, plugin_id in enumerate(source_ids))
    (path / f"{module}.py").write_text(textwrap.dedent("""
        from webapp.plugin_api import SourcePlugin
        from webapp.plugins import hookimpl
        """) + classes + textwrap.dedent(f"""
        @hookimpl
        def sdm_source_plugins():
            return [{", ".join(f"Source{i}" for i in range(len(source_ids)))}]
        """))
    info = path / f"{module.replace('_', '-')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[sdm.plugins]\n{module} = {module}\n")
    return module


def test_builtin_plugins_are_registered_by_id(app):
    registry = app.extensions["sdm.plugins"]
    assert {"source-oneroster", "source-test-data"} <= set(registry.sources)
    assert "output-oneroster-csv" in registry.outputs
    assert registry.source("source-test-data").name == "Test data"


def test_third_party_plugin_loads_through_its_entry_point(app_config, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    install_distribution(tmp_path, ["source-fake"])
    app = create_app({**app_config, "PLUGIN_ENTRY_POINTS": True})
    source = app.extensions["sdm.plugins"].sources["source-fake"]
    assert issubclass(source, SourcePlugin) and source.name == "Fake source 0"


def test_entry_points_are_ignored_when_turned_off(app_config, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    install_distribution(tmp_path, ["source-fake"])
    app = create_app({**app_config, "PLUGIN_ENTRY_POINTS": False})
    assert "source-fake" not in app.extensions["sdm.plugins"].sources


def test_a_plugin_claiming_a_taken_id_stops_start_up(app_config, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    install_distribution(tmp_path, ["source-test-data"])
    with pytest.raises(DuplicatePlugin, match="source-test-data"):
        create_app({**app_config, "PLUGIN_ENTRY_POINTS": True})


def test_each_app_has_its_own_manager(app_config, tmp_path, monkeypatch):
    plain = create_app(app_config)
    monkeypatch.syspath_prepend(str(tmp_path))
    install_distribution(tmp_path, ["source-extra"])
    extended = create_app({**app_config, "PLUGIN_ENTRY_POINTS": True})
    assert "source-extra" in extended.extensions["sdm.plugins"].sources
    assert "source-extra" not in plain.extensions["sdm.plugins"].sources


class Twin:
    id = "output-twin"
    name = "Twin"


class First:
    @hookimpl
    def sdm_output_plugins(self):
        return [Twin]


class Second:
    @hookimpl
    def sdm_output_plugins(self):
        return [Twin]


def test_registry_refuses_two_outputs_with_one_id():
    manager = make_manager(builtins=(), entry_points=False)
    manager.register(First())
    assert Registry(manager).outputs == {"output-twin": Twin}
    manager.register(Second())
    with pytest.raises(DuplicatePlugin, match="output-twin"):
        Registry(manager)
