"""The sandbox SIS: a OneRoster server over a generated district, with fault profiles."""

from __future__ import annotations

from oneroster.sandbox.app import PATHS, TOKEN_PATH, SandboxApp
from oneroster.sandbox.profiles import PROFILES, SECRET, Profile

__all__ = ["PATHS", "PROFILES", "SECRET", "TOKEN_PATH", "Profile", "SandboxApp"]
