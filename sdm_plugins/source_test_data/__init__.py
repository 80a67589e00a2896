"""source-test-data: hook implementations."""

from __future__ import annotations

from webapp.plugins import hookimpl


@hookimpl
def sdm_source_plugins() -> list[type]:
    from sdm_plugins.source_test_data.source import SampleSchoolSource

    return [SampleSchoolSource]
