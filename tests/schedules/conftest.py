"""Fixtures of the schedule tests: the runs tests' organization, admin and flows."""

from __future__ import annotations

from tests.runs.conftest import ada, app_config, flows  # noqa: F401 - fixtures
