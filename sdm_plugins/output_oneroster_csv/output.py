"""output-oneroster-csv: a OneRoster 1.2 CSV bundle (a zip of manifest.csv and data files)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from sdm_plugins.output_oneroster_csv import binding
from sdm_plugins.output_oneroster_csv.references import Ledger
from webapp.plugin_api import Field, OutputPlugin, OutputResult, RunData

# The order files are written in: referenced entities before the ones that point to them.
ORDER = ("academicSessions", "orgs", "courses", "classes", "users", "enrollments",
         "demographics")
# OWASP's CSV injection guidance: a cell starting with one of these is a formula to a
# spreadsheet; a leading ' makes the spreadsheet show it as text.
RISKY = frozenset("=+-@\t\r")
_RISKY_START = re.compile("\0[" + re.escape("".join(sorted(RISKY))) + "]")
PROTECT = Field(
    "protect_spreadsheets", "Protect spreadsheet users", "choice", default="on",
    choices=(("on", "On: values starting with = + - @ get a leading '"),
             ("off", "Off: every value byte for byte")),
    help="A value from the SIS that starts with =, +, - or @ runs as a formula when someone "
         "opens the file in a spreadsheet. On puts a ' in front of such values (OWASP CSV "
         "injection guidance); off gives byte-exact files for systems that import them.")


class Protector:
    """Prefix cells a spreadsheet would run as formulas, and count them."""

    def __init__(self, on: bool) -> None:
        self.on = on
        self.changed = 0

    def rows(self, rows: Iterable[list[str]]) -> Iterable[list[str]]:
        """Return the rows, with risky cells prefixed when protection is on."""
        if not self.on:
            return rows
        return (self.row(row) for row in rows)

    def row(self, row: list[str]) -> list[str]:
        """Return one row with risky cells prefixed."""
        # One search in C over the row's cells, each after a NUL: a row without a match has
        # no risky cell (a NUL inside a cell only sends its row the careful way below).
        if not _RISKY_START.search("\0" + "\0".join(row)):
            return row
        out = []
        for cell in row:
            if cell and cell[0] in RISKY:
                self.changed += 1
                cell = "'" + cell
            out.append(cell)
        return out


class OneRosterCsvOutput(OutputPlugin):
    """Write a run's records as a OneRoster 1.2 CSV bundle."""

    id = "output-oneroster-csv"
    name = "OneRoster 1.2 CSV bundle"
    description = ("A zip with manifest.csv and one CSV file per collection, in the "
                   "OneRoster 1.2 CSV binding's column order, ready for any CSV import.")
    extension = "zip"
    media_type = "application/zip"
    fields = (PROTECT,)

    def filename(self, data: RunData) -> str:
        return f"oneroster-run-{data.run_id}.zip"

    def write(self, data: RunData, path: Path) -> OutputResult:
        held = set(data.entities())
        entities = [e for e in ORDER if e in held]
        guard = Protector(self.config.get("protect_spreadsheets", "on") != "off")
        # A delta bundle names records of earlier bundles: its references are not checked.
        ledger = None if any(data.mode(e) == "delta" for e in entities) else Ledger()
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
                        bundle, data, delta, guard, ledger)
                else:
                    counts[entity], dropped = self._write_file(bundle, data, entity, delta,
                                                               guard, ledger)
                skipped += dropped
            if ledger is not None:
                ledger.finish()
                explained = ledger.notes(data.absent())
            else:
                explained = ["Delta files hold only what changed: their references may name "
                             "records of earlier bundles."]
            self._write_manifest(bundle, data, modes, explained, guard)
        notes = []
        if skipped:
            notes.append(f"{skipped} records marked tobedeleted were left out of the bulk "
                         f"files (a bulk file lists only what exists).")
        notes += explained
        notes.append(_protection_note(guard))
        return OutputResult({f"{e}.csv": n for e, n in counts.items()}, tuple(notes))

    @staticmethod
    def _write_file(bundle: zipfile.ZipFile, data: RunData, entity: str,
                    delta: bool, guard: Protector, ledger: Ledger | None) -> tuple[int, int]:
        rows = skipped = 0

        def produce() -> Iterable[list[str]]:
            nonlocal rows, skipped
            for record in data.records(entity):
                if not delta and record.status == "tobedeleted":
                    skipped += 1
                    if ledger is not None:
                        ledger.left_out(entity, record.sourced_id)
                    continue
                rows += 1
                line = binding.row(entity, record.sourced_id, record.status,
                                   record.date_last_modified, record.data, delta=delta)
                if ledger is not None:
                    ledger.row(entity, line)
                yield line

        _write_csv(bundle, f"{entity}.csv", binding.header(entity), guard.rows(produce()))
        if ledger is not None:
            ledger.close(entity)
        return rows, skipped

    @staticmethod
    def _write_users(bundle: zipfile.ZipFile, data: RunData, delta: bool, guard: Protector,
                     ledger: Ledger | None) -> tuple[int, int, int]:
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
                        if ledger is not None:
                            ledger.left_out("users", user.sourced_id)
                        continue
                    rows += 1
                    lines = list(binding.role_rows(user.sourced_id, user.status,
                                                   user.date_last_modified, user.data,
                                                   delta=delta))
                    line = binding.row("users", user.sourced_id, user.status,
                                       user.date_last_modified, user.data, delta=delta)
                    if ledger is not None:
                        ledger.row("users", line)
                        for role in lines:
                            ledger.row("roles", role)
                    roles += len(lines)
                    role_writer.writerows(guard.rows(lines))
                    yield line

            _write_csv(bundle, "users.csv", binding.header("users"), guard.rows(produce()))
            if ledger is not None:
                ledger.close("users")
                ledger.close("roles")
            _add_spooled(bundle, "roles.csv", text)
        return rows, skipped, roles

    @staticmethod
    def _write_manifest(bundle: zipfile.ZipFile, data: RunData, modes: dict[str, str],
                        notes: list[str], guard: Protector) -> None:
        """Write manifest.csv; SDM's own notes (why a reference points nowhere) follow the
        binding's properties as ext.sdm.note.N."""
        lines = [["manifest.version", "1.0"], ["oneroster.version", "1.2"]]
        lines += [[f"file.{name}", modes.get(name, "absent")] for name in binding.MANIFEST_FILES]
        lines += [["source.systemName", "SDM"], ["source.systemCode", data.label]]
        lines += guard.rows([[f"ext.sdm.note.{n}", note] for n, note in enumerate(notes, 1)])
        _write_csv(bundle, "manifest.csv", ["propertyName", "value"], lines)


def _protection_note(guard: Protector) -> str:
    """Say in the bundle's notes whether values were changed for spreadsheets, and how many."""
    if not guard.on:
        return ("Protect spreadsheet users is off: values are byte for byte as the SIS sent "
                "them, so a value starting with =, +, - or @ may run as a formula in a "
                "spreadsheet.")
    return (f"Protect spreadsheet users is on: {guard.changed} value"
            f"{'s' if guard.changed != 1 else ''} starting with =, +, -, @, tab or carriage "
            "return got a leading ' so spreadsheets show them as text (OWASP CSV injection "
            "guidance). Turn it off in the flow's output for byte-exact files.")


def _add_spooled(bundle: zipfile.ZipFile, name: str, text: io.TextIOWrapper) -> None:
    """Copy a CSV written to a spool file into one zip entry."""
    text.flush()
    spool = text.detach()
    spool.seek(0)
    with bundle.open(name, "w", force_zip64=True) as entry:
        shutil.copyfileobj(spool, entry, 1 << 20)


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
