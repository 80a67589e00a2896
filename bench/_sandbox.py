"""Start a standalone sandbox SIS in a subprocess on loopback, for benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def sandbox(users: int, latency_ms: float = 0.0) -> Iterator[dict]:
    """Run the sandbox on a free port; yield what it printed (URLs, record counts) and its pid."""
    process = subprocess.Popen(
        [sys.executable, "-m", "oneroster.sandbox", "--host", "127.0.0.1",
         "--port", "0", "--users", str(users), "--latency-ms", str(latency_ms)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"The sandbox did not start (exit code {process.wait()})")
        yield {**json.loads(line), "pid": process.pid}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
