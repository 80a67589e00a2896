"""The accessibility audit of the browser tests: axe-core (pinned in package.json) in the page.

Every page and fragment state a browser test reaches is audited; serious and critical
violations fail the test with the rule, the elements and axe's explanation.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FAILING = ("serious", "critical")
RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " — " + n.failureSummary),
  }));
}"""


@cache
def _source() -> str:
    if not AXE.exists():
        raise AssertionError(f"axe-core is missing at {AXE}: run `make deps` (npm ci).")
    return AXE.read_text(encoding="utf-8")


def violations(page) -> list[dict]:
    """Run axe-core on the page as it is now; return its serious and critical violations."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated rather than added as a <script>, so a Content-Security-Policy cannot stop it.
        page.evaluate(_source())
    found = page.evaluate(RUN)
    return [v for v in found if v["impact"] in FAILING]


def assert_accessible(page, where: str) -> None:
    """Fail with axe-core's findings when the page has a serious or critical violation."""
    found = violations(page)
    lines = [f"{v['impact']}: {v['id']} ({v['help']})\n    " + "\n    ".join(v["nodes"])
             for v in found]
    assert not found, f"accessibility violations on {where}:\n" + "\n".join(lines)
