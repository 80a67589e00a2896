"""The references of a bundle: every sourcedId a file names is in the bundle, or a note says why.

As the files are written, the ledger keeps the sourcedIds each referenced file holds and those
it left out (tobedeleted records have no place in a bulk file), as their 64-bit hashes in
compact arrays (8 bytes a sourcedId, where a set of them takes ten times that), sorted when
their file is complete. A reference to a file already written is resolved at once; one to a
file still to come (or its own file, as an org's parent) waits in a compact array until the
end. The notes say, per file and column, how many references point nowhere and why: the
file is absent (and why), the records were left out, or the SIS never sent them.

Two sourcedIds share a hash with a chance of one in 2**64 per pair: at worst a reference that
points nowhere goes without its note.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping

from sdm_plugins.output_oneroster_csv import binding

ABSENT, LEFT_OUT, UNSENT = "absent", "left out", "not sent"
# Arrays a file's hashes are kept in, by the hash's top bits: sorting one at a time keeps the
# sort's temporary list to a sixteenth of the file.
PARTS = 16


class Hashes:
    """The 64-bit hashes of a file's sourcedIds in compact arrays, sorted once it is complete."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts = [array("q") for _ in range(PARTS)]

    def add(self, sourced_id: str) -> None:
        """Take one sourcedId (the file is still being written)."""
        value = hash(sourced_id)
        self.parts[value >> 60].append(value)  # -8..7: a part from either end of the list

    def seal(self) -> None:
        """Sort the hashes, so that they can be looked up."""
        self.parts = [array("q", sorted(part)) for part in self.parts]

    def __contains__(self, value: int) -> bool:
        part = self.parts[value >> 60]
        found = bisect_left(part, value)
        return found < len(part) and part[found] == value


class Ledger:
    """The sourcedIds a bundle holds and names, and the references that point nowhere."""

    def __init__(self) -> None:
        targets = {target for refs in binding.REFERENCES.values() for _, target in refs}
        self.held: dict[str, Hashes] = {t: Hashes() for t in targets}
        self.left: dict[str, Hashes] = {t: Hashes() for t in targets}
        self.written: set[str] = set()
        self.waiting: dict[tuple[str, str, str], array] = {}
        self.dangling: Counter[tuple[str, str, str, str]] = Counter()
        self.columns = {
            file: [(binding.header(file).index(column), column, target,
                    column in binding.LISTS) for column, target in refs]
            for file, refs in binding.REFERENCES.items()}
        # Per file and column, the last value whose sourcedIds were all found: rosters list a
        # class's enrollments together, so most rows name the class and school before them.
        self.last: dict[str, list[str | None]] = {
            file: [None] * len(refs) for file, refs in binding.REFERENCES.items()}

    def row(self, file: str, row: list[str]) -> None:
        """Take one written row: the sourcedId it holds and every sourcedId it names."""
        held = self.held.get(file)
        if held is not None:
            held.add(row[0])
        last = self.last.get(file)
        for number, (index, column, target, many) in enumerate(self.columns.get(file, ())):
            value = row[index]
            if not value or value == last[number]:
                continue
            values = value.split(",") if many else (value,)
            if target in self.written:  # the usual case, run for every reference: inlined
                parts = self.held[target].parts
                last[number] = value
                for sourced_id in values:
                    hashed = hash(sourced_id)
                    part = parts[hashed >> 60]
                    found = bisect_left(part, hashed)
                    if found == len(part) or part[found] != hashed:
                        self._resolve(file, column, target, hashed)
                        last[number] = None
            else:
                waiting = self.waiting.setdefault((file, column, target), array("q"))
                waiting.extend(map(hash, values))

    def left_out(self, file: str, sourced_id: str) -> None:
        """Take a record left out of a file (tobedeleted, in a bulk file)."""
        left = self.left.get(file)
        if left is not None:
            left.add(sourced_id)

    def close(self, file: str) -> None:
        """Say a file is complete: later references to it are resolved as they come."""
        for hashes in (self.held.get(file), self.left.get(file)):
            if hashes is not None:
                hashes.seal()
        self.written.add(file)

    def finish(self) -> None:
        """Resolve the references that waited for their file, or for the end."""
        for (file, column, target), hashes in self.waiting.items():
            for value in hashes:
                self._resolve(file, column, target, value)
        self.waiting.clear()

    def _resolve(self, file: str, column: str, target: str, value: int) -> None:
        if target not in self.written:
            reason = ABSENT
        elif value in self.held[target]:
            return
        elif value in self.left[target]:
            reason = LEFT_OUT
        else:
            reason = UNSENT
        self.dangling[(file, column, target, reason)] += 1

    def notes(self, absent: Mapping[str, str]) -> list[str]:
        """Say why each reference that points nowhere does; `absent` gives files' reasons."""
        notes = []
        missing: dict[str, list[str]] = {}
        for (file, column, target, reason), count in sorted(self.dangling.items()):
            where = f"{count:,} {column} value{'s' if count != 1 else ''} in {file}.csv"
            name = "names" if count == 1 else "name"
            if reason == ABSENT:
                missing.setdefault(target, []).append(where)
            elif reason == LEFT_OUT:
                notes.append(f"{where} {name} {target} marked tobedeleted, left out of "
                             f"{target}.csv (a bulk file lists only what exists)")
            else:
                notes.append(f"{where} {name} {target} the SIS did not send")
        for target, wheres in missing.items():
            notes.append(f"file.{target} absent: {absent_reason(target, absent)} "
                         f"({'; '.join(wheres)} name its records)")
        for target in sorted(set(absent) - set(missing) - self.written):
            notes.append(f"file.{target} absent: {absent_reason(target, absent)}")
        return notes


def absent_reason(file: str, absent: Mapping[str, str]) -> str:
    """Say why a file is not in the bundle, in lower case, to follow 'absent:'."""
    reason = absent.get(file)
    if reason:
        return reason[0].lower() + reason[1:]
    return f"this run read no {file}"
