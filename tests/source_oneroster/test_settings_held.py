"""A setting held by several users at once is changed by the first and restored by the last."""

from __future__ import annotations

import gc
import sys

from oneroster.parallel import GC_THRESHOLD_0, fewer_collections
from oneroster.settings_held import HeldSetting
from webapp.runs.store import SWITCH_INTERVAL_S, prompt_switching


def test_the_first_holder_changes_it_and_the_last_puts_it_back():
    value = ["original"]
    setting = HeldSetting(lambda: value[0], lambda v: value.__setitem__(0, v),
                          lambda saved: saved.upper())
    with setting.held():
        assert value == ["ORIGINAL"]
        with setting.held():
            assert value == ["ORIGINAL"]
        assert value == ["ORIGINAL"]  # one holder still runs
    assert value == ["original"]


def test_fetches_and_writers_hold_the_interpreter_settings_they_need():
    threshold, interval = gc.get_threshold(), sys.getswitchinterval()
    with fewer_collections(), prompt_switching():
        assert gc.get_threshold()[0] == max(GC_THRESHOLD_0, threshold[0])
        assert sys.getswitchinterval() == min(SWITCH_INTERVAL_S, interval)
    assert gc.get_threshold() == threshold and sys.getswitchinterval() == interval
