"""Fixtures of the OneRoster client tests: HTTP faked with `responses`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """Fake HTTP; a request nothing answers fails as a connection error."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
