"""Interpreter settings for a process that only runs background work (a worker, a benchmark).

Two process-wide settings make a flow run markedly faster, and are set here, once, by the
entry points of such processes (``flask sdm worker`` and the benchmarks under bench/), never
by library code and never in the web process, whose request threads they would affect:

- The garbage collector runs after 100,000 new containers rather than 700. A page of records
  is some 15,000 short-lived dicts and lists; at the default the collector runs dozens of
  times a page, with full collections over the whole heap taking more time than the parsing.
  Records hold no reference cycles, so this costs no memory.
- A thread waiting for the interpreter lock asks for it after 1 ms rather than 5 ms. A run's
  writer thread gives the lock up for every statement, while the database works, and must win
  it back from readers busy parsing pages: at 5 ms a wait it spent more time waiting than
  storing, and the readers waited for it in turn.

Runs in the web process (SDM_JOBS=thread, the demo) work the same, only without this tuning.
"""

from __future__ import annotations

import gc
import sys

GC_THRESHOLD_0 = 100_000
SWITCH_INTERVAL_S = 0.001


def tune_for_background_work() -> None:
    """Set the collector threshold and switch interval a worker process runs best with."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(GC_THRESHOLD_0, threshold[0]), *threshold[1:])
    sys.setswitchinterval(min(SWITCH_INTERVAL_S, sys.getswitchinterval()))
