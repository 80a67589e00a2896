"""Fixtures of the notification tests: a loopback SMTP server and webhook receiver."""

from __future__ import annotations

import pytest

from tests.fixtures.loopback import receiver, smtp  # noqa: F401 - fixtures
from tests.runs.conftest import ada, flows  # noqa: F401 - fixtures


@pytest.fixture
def app_config(app_config, smtp, tmp_path):  # noqa: F811 - the smtp fixture
    port, _ = smtp
    return {**app_config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_SECURITY": "none",
            "SMTP_FROM": "SDM <sdm@example.org>", "APP_URL": "https://sdm.example.org/",
            "ARTIFACTS_DIR": str(tmp_path / "artifacts")}
