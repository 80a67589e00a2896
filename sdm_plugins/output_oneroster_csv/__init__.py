"""output-oneroster-csv: hook implementations."""

from __future__ import annotations

from webapp.plugins import hookimpl


@hookimpl
def sdm_output_plugins() -> list[type]:
    from sdm_plugins.output_oneroster_csv.output import OneRosterCsvOutput

    return [OneRosterCsvOutput]
