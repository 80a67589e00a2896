"""The host, the built-in plugins and the OneRoster package keep the shape STYLE.md asks for:
modules under about 350 lines, functions under about 40 unless a comment right above says
why, and a one-line docstring on every view."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULE_MAX = 350
FUNCTION_MAX = 40
VERBS = {"get", "post", "put", "patch", "delete", "route"}


def checked_files() -> list[Path]:
    """Return every module of the host, the built-in plugins and the OneRoster package."""
    return sorted(p for package in ("webapp", "sdm_plugins", "oneroster")
                  for p in ROOT.glob(f"{package}/**/*.py"))


def functions(tree: ast.Module):
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def is_view(node: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
               and d.func.attr in VERBS for d in node.decorator_list)


@pytest.mark.parametrize("path", checked_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small_and_views_say_what_they_do(path):
    text = path.read_text()
    lines = text.splitlines()
    assert len(lines) <= MODULE_MAX, f"{len(lines)} lines: split the module"
    for node in functions(ast.parse(text)):
        first = min([d.lineno for d in node.decorator_list] + [node.lineno])
        length = node.end_lineno - node.lineno + 1
        reason = first >= 2 and lines[first - 2].lstrip().startswith("#")
        assert length <= FUNCTION_MAX or reason, \
            f"{node.name} has {length} lines and no reason written above it"
        if is_view(node):
            doc = ast.get_docstring(node)
            assert doc and "\n" not in doc.strip(), f"view {node.name} needs a one-line docstring"
