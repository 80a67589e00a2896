"""The line between the host, its plugins and the OneRoster package, proven by their imports.

Every module is imported (so none is skipped because it is never loaded) and its source read
for every import statement, function-level ones included.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("webapp", "sdm_plugins", "oneroster")


def modules(package: str) -> list[str]:
    """Return the dotted names of a package and every module under it."""
    root = importlib.import_module(package)
    found = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        found.append(info.name)
    return sorted(found)


def imports_of(source: str, module: str) -> set[str]:
    """Return every module a source imports, relative imports resolved against `module`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: -node.level]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def source_of(module: str) -> str:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin).read_text()


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def host_violations(module: str, names: set[str]) -> list[str]:
    """A host module may import neither a built-in plugin nor the OneRoster package."""
    return sorted(n for n in names if under(n, "sdm_plugins") or under(n, "oneroster"))


def plugin_violations(module: str, names: set[str]) -> list[str]:
    """A plugin may import no host model, extension, database or service."""
    return sorted(n for n in names if under(n, "webapp.models") or under(n, "webapp.extensions")
                  or (under(n, "webapp") and "services" in n.split(".")))


def library_violations(module: str, names: set[str]) -> list[str]:
    """The OneRoster package knows nothing of Flask, SQLAlchemy, the host or its plugins."""
    banned = ("flask", "flask_sqlalchemy", "flask_login", "sqlalchemy", "webapp", "sdm_plugins")
    return sorted(n for n in names if any(under(n, b) for b in banned))


RULES = {"webapp": host_violations, "sdm_plugins": plugin_violations,
         "oneroster": library_violations}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_imports_and_keeps_to_its_side(package):
    checked = 0
    problems = {}
    for module in modules(package):
        importlib.import_module(module)
        found = RULES[package](module, imports_of(source_of(module), module))
        if found:
            problems[module] = found
        checked += 1
    assert checked > 5, f"only {checked} modules found under {package}"
    assert problems == {}


def test_the_host_registers_built_in_plugins_by_dotted_name_only():
    from webapp import plugins

    assert all(name.startswith("sdm_plugins.") for name in plugins.BUILTIN_PLUGINS)
    assert not host_violations("webapp.plugins",
                               imports_of(source_of("webapp.plugins"), "webapp.plugins"))


def test_the_rules_catch_what_they_forbid():
    host = imports_of("def f():\n    from sdm_plugins.source_oneroster import source\n",
                      "webapp.runs.engine")
    assert host_violations("webapp.runs.engine", host) == [
        "sdm_plugins.source_oneroster", "sdm_plugins.source_oneroster.source"]
    plugin = imports_of("from webapp.connections import services\nimport webapp.extensions\n"
                        "from webapp.models.connections import Connection\n"
                        "from webapp.plugin_api import SourcePlugin\n",
                        "sdm_plugins.source_x.source")
    assert plugin_violations("sdm_plugins.source_x.source", plugin) == [
        "webapp.connections.services", "webapp.extensions", "webapp.models.connections",
        "webapp.models.connections.Connection"]
    assert library_violations("oneroster.x", imports_of("import sqlalchemy.orm\n", "x")) == [
        "sqlalchemy.orm"]


def test_the_oneroster_package_loads_without_flask_or_sqlalchemy():
    names = " ".join(m for m in modules("oneroster"))
    code = (f"import importlib, sys\nfor name in {names!r}.split():\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'sqlalchemy', 'webapp', 'sdm_plugins')))")
    answer = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert answer.stdout.strip() == "[]", answer.stdout
