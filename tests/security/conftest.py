"""Fixtures of the security tests: the connection area's people and helpers."""

from __future__ import annotations

from tests.connections.conftest import create, login, people, saved  # noqa: F401
