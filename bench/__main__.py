"""Run the benchmarks: `python bench/__main__.py [NAME]` runs bench/NAME.py, or all of them.

Every benchmark is a module of this folder whose name does not start with "_"; each prints one
JSON line. They run one after another, each in its own process, from the repository root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def discover() -> list[str]:
    """Return the names of the benchmarks, in name order."""
    return sorted(p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_"))


def run(name: str) -> int:
    """Run one benchmark; its JSON line goes straight to standard output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    return subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    """Run the benchmarks named, or every one; return non-zero if any failed."""
    available = discover()
    names = argv or available
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"No benchmark named {', '.join(unknown)}; available: {', '.join(available)}",
              file=sys.stderr)
        return 2
    failed = [name for name in names if run(name) != 0]
    if failed:
        print(f"Benchmarks failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
