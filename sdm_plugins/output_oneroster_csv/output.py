"""output-oneroster-csv: a OneRoster 1.2 CSV bundle (a zip of manifest.csv and data files)."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from sdm_plugins.output_oneroster_csv import binding
from webapp.plugin_api import OutputPlugin, OutputResult, RunData

# The order files are written in: referenced entities before the ones that point to them.
ORDER = ("academicSessions", "orgs", "courses", "classes", "users", "enrollments",
         "demographics")


class OneRosterCsvOutput(OutputPlugin):
    """Write a run's records as a OneRoster 1.2 CSV bundle."""

    id = "output-oneroster-csv"
    name = "OneRoster 1.2 CSV bundle"
    description = ("A zip with manifest.csv and one CSV file per collection, in the "
                   "OneRoster 1.2 CSV binding's column order, ready for any CSV import.")
    extension = "zip"
    media_type = "application/zip"

    def filename(self, data: RunData) -> str:
        return f"oneroster-run-{data.run_id}.zip"

    def write(self, data: RunData, path: Path) -> OutputResult:
        held = set(data.entities())
        entities = [e for e in ORDER if e in held]
        modes: dict[str, str] = {}
        counts: dict[str, int] = {}
        skipped = 0
        # Level 1: CSV compresses well even so, and the bundle is written at the end of a run.
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED,
                             compresslevel=1) as bundle:
            for entity in entities:
                delta = data.mode(entity) == "delta"
                modes[entity] = "delta" if delta else "bulk"
                if entity == "users":
                    modes["roles"] = modes["users"]
                    counts["users"], dropped, counts["roles"] = self._write_users(
                        bundle, data, delta)
                else:
                    counts[entity], dropped = self._write_file(bundle, data, entity, delta)
                skipped += dropped
            self._write_manifest(bundle, data, modes)
        notes = []
        if skipped:
            notes.append(f"{skipped} records marked tobedeleted were left out of the bulk "
                         f"files (a bulk file lists only what exists).")
        return OutputResult({f"{e}.csv": n for e, n in counts.items()}, tuple(notes))

    @staticmethod
    def _write_file(bundle: zipfile.ZipFile, data: RunData, entity: str,
                    delta: bool) -> tuple[int, int]:
        rows = skipped = 0

        def produce() -> Iterable[list[str]]:
            nonlocal rows, skipped
            for record in data.records(entity):
                if not delta and record.status == "tobedeleted":
                    skipped += 1
                    continue
                rows += 1
                yield binding.row(entity, record.sourced_id, record.status,
                                  record.date_last_modified, record.data, delta=delta)

        _write_csv(bundle, f"{entity}.csv", binding.header(entity), produce())
        return rows, skipped

    @staticmethod
    def _write_users(bundle: zipfile.ZipFile, data: RunData,
                     delta: bool) -> tuple[int, int, int]:
        """Write users.csv, and roles.csv from the same pass (1.2 keeps roles apart)."""
        rows = skipped = roles = 0
        with tempfile.TemporaryFile() as spool:
            text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
            role_writer = csv.writer(text)
            role_writer.writerow(binding.header("roles"))

            def produce() -> Iterable[list[str]]:
                nonlocal rows, skipped, roles
                for user in data.records("users"):
                    if not delta and user.status == "tobedeleted":
                        skipped += 1
                        continue
                    rows += 1
                    lines = list(binding.role_rows(user.sourced_id, user.status,
                                                   user.date_last_modified, user.data,
                                                   delta=delta))
                    roles += len(lines)
                    role_writer.writerows(lines)
                    yield binding.row("users", user.sourced_id, user.status,
                                      user.date_last_modified, user.data, delta=delta)

            _write_csv(bundle, "users.csv", binding.header("users"), produce())
            text.flush()
            text.detach()
            spool.seek(0)
            with bundle.open("roles.csv", "w", force_zip64=True) as entry:
                shutil.copyfileobj(spool, entry, 1 << 20)
        return rows, skipped, roles

    @staticmethod
    def _write_manifest(bundle: zipfile.ZipFile, data: RunData, modes: dict[str, str]) -> None:
        lines = [["manifest.version", "1.0"], ["oneroster.version", "1.2"]]
        lines += [[f"file.{name}", modes.get(name, "absent")] for name in binding.MANIFEST_FILES]
        lines += [["source.systemName", "SDM"], ["source.systemCode", data.label]]
        _write_csv(bundle, "manifest.csv", ["propertyName", "value"], lines)


def _write_csv(bundle: zipfile.ZipFile, name: str, head: list[str],
               rows: Iterable[list[str]]) -> None:
    """Stream rows into one zip entry as UTF-8 CSV (RFC 4180 line ends)."""
    with bundle.open(name, "w", force_zip64=True) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(head)
        writer.writerows(rows)
        text.flush()
        text.detach()
