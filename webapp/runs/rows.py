"""A page of records made ready to store, and what it adds to the tally.

On SQLite a page becomes multi-row INSERT statements; on PostgreSQL (psycopg 3) it becomes the
rows of a COPY in its text format, one bytes object the writer streams as it is. A page is
prepared in the thread of the reader that hands it over, so the writer thread needs the
interpreter lock only for the moment the driver takes the values; its database work runs
without the lock. Values are gathered column by column over the page, in C, and the JSON of a
record is serialised once, by orjson, unless the record holds it already (see Record).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from operator import attrgetter, itemgetter
from typing import Any

import orjson

from webapp.models import RunRecord, RunReference
from webapp.plugin_api import Record
from webapp.runs.tally import FOLLOWED, REFERENCES, pointed, targets

COLUMNS = ("run_id", "entity", "sourced_id", "source_rank", "status", "date_last_modified",
           "superseded", "ref_a", "ref_b", "data")
# 10,000 parameters a statement: within PostgreSQL's 65,535 and SQLite's 32,766 (since 3.32).
ROWS_PER_STATEMENT = 1000 if sqlite3.sqlite_version_info >= (3, 32) else 90
SQLITE_MAX_PARAMETERS = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999
_SOURCED_ID, _STATUS, _MODIFIED, _DATA = (itemgetter(i) for i in (1, 2, 3, 4))
TARGET_LENGTH = RunReference.__table__.c.target.type.length
_statements: dict[tuple[str, int, bool], str] = {}  # SQL text, made once per shape


def _serialised(value: Any) -> Any:
    """orjson's `default`: a record's data given as JSON already (see Record) goes as it is."""
    found = getattr(value, "json", None)
    if isinstance(found, bytes):
        return orjson.Fragment(found)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"A record's data is a {type(value).__name__}, not a mapping")


_JSON = partial(orjson.dumps, default=_serialised)
_JSON_OF = attrgetter("json")
_BYTES = frozenset((bytes,))


def _serialised_already(datas: list[Any]) -> list[bytes] | None:
    """Return the JSON of a page's records when every one holds it already (see Record)."""
    try:
        jsons = list(map(_JSON_OF, datas))
    except AttributeError:
        return None
    return jsons if _BYTES.issuperset(map(type, jsons)) else None
COPY_SQL = (f"COPY {RunRecord.__tablename__} (run_id, entity, source_rank, superseded, "
            "sourced_id, status, date_last_modified, ref_a, ref_b, data) FROM STDIN")
# What COPY's text format cannot take as it is: its separators and its escape character.
_COPY_SPECIAL = ("\\", "\t", "\n", "\r")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL_BYTES = tuple(special.encode() for special in _COPY_SPECIAL)


def _copy_escaped(data: bytes) -> bytes:
    return (data.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")
            .replace(b"\r", b"\\r"))


@dataclass
class PreparedPage:
    """One page of one source: the statements that store it and what the tally learns."""

    rank: int
    entity: str
    statements: list[tuple[str, tuple[Any, ...]]]  # for method "sqlite" or "insert"
    copy: bytes | None  # for method "copy": the rows of COPY_SQL
    ids: list[str]
    tobedeleted: int
    references: dict[str, list[str | None]] | None  # see tally.pointed()
    targets: list[tuple[str, str, str]]  # see tally.targets(): for run_references


def method(dialect: Any) -> str:
    """Return how pages are stored on a dialect: "sqlite", "copy" or "insert"."""
    if dialect.name == "sqlite":
        return "sqlite"
    return "copy" if (dialect.name, dialect.driver) == ("postgresql", "psycopg") else "insert"


def prepare(how: str, paramstyle: str, run_id: int, rank: int, entity: str,
            records: list[Record]) -> PreparedPage:
    """Return what stores a page of records the way `how` says, and its tally figures."""
    datas = list(map(_DATA, records))
    jsons = _serialised_already(datas)
    if jsons is not None and (entity in REFERENCES or entity in FOLLOWED):
        # The references are read from the JSON the records hold: one parse for the page.
        datas = orjson.loads(b"[" + b",".join(jsons) + b"]")
    references = pointed(entity, datas)
    ids = list(map(_SOURCED_ID, records))
    columns: list[Any] = [ids, list(map(_STATUS, records)), list(map(_MODIFIED, records))]
    for field in REFERENCES.get(entity, ()):
        columns.append(references[field] if references is not None
                       else [_ref(data.get(field)) for data in datas])
    statements: list[tuple[str, tuple[Any, ...]]] = []
    copy = None
    if how == "copy":
        copy = _copy(run_id, rank, entity, columns, jsons or list(map(_JSON, datas)))
    else:  # each JSON serialised as the statement takes it, and let go with the page
        rows = zip(*columns, map(bytes.decode, jsons or map(_JSON, datas)), strict=True)
        statements = (_sqlite(run_id, rank, entity, rows, len(columns) + 1) if how == "sqlite"
                      else _generic(paramstyle, run_id, rank, entity, rows))
    found = targets(entity, references)
    if any(len(target) > TARGET_LENGTH for _entity, _field, target in found):
        found, references = [], None  # names no sourcedId a run holds: the records decide
    return PreparedPage(rank, entity, statements, copy, ids, columns[1].count("tobedeleted"),
                        references, found)


def _sqlite(run_id: int, rank: int, entity: str, rows: Any,
            width: int) -> list[tuple[str, tuple[Any, ...]]]:
    # Run, collection and rank are bound once a statement (?1 ?2 ?3), then the row's values:
    # strings, as far as the data allows, which the driver binds in a fraction of the time
    # it spends on a None, which it first offers to its adapters.
    statements = []
    per_statement = min(ROWS_PER_STATEMENT, (SQLITE_MAX_PARAMETERS - 3) // width)
    while chunk := list(islice(rows, per_statement)):
        statements.append((_sql("sqlite", len(chunk), width > 4),
                           (run_id, entity, rank, *chain.from_iterable(chunk))))
    return statements


def _generic(paramstyle: str, run_id: int, rank: int, entity: str,
             rows: Any) -> list[tuple[str, tuple[Any, ...]]]:
    references = entity in REFERENCES
    statements = []
    while chunk := list(islice(rows, ROWS_PER_STATEMENT)):
        values: list[Any] = []
        for row in chunk:
            sourced_id, status, modified, *refs, data = row
            ref_a, ref_b = refs if references else (None, None)
            values += (run_id, entity, sourced_id, rank, status or "active", modified, False,
                       ref_a, ref_b, data)
        statements.append((_sql(paramstyle, len(chunk), True), tuple(values)))
    return statements


def _copy(run_id: int, rank: int, entity: str, columns: list[list[Any]],
          datas: list[bytes]) -> bytes:
    # A line a record: run, collection, rank and superseded, the same on every line, then
    # sourcedId, status, dateLastModified, the two references and the JSON, tab-separated.
    # Built as bytes: the JSON stays as orjson wrote it, and no text of the page is copied
    # into a wider string (one non-ASCII name would make the whole page UCS-2) or encoded.
    sourced_ids, statuses, modified, *refs = columns
    statuses = [status or "active" for status in statuses]
    text = list(map(_copy_column, (sourced_ids, statuses, modified, *refs)))
    if len(refs) != 2:
        text += [[b"\\N"] * len(sourced_ids)] * 2
    # JSON escapes every control character inside a string: only a backslash, or a line
    # break or tab between values (JSON held as a server wrote it), needs escaping here.
    joined = b"".join(datas)
    if any(special in joined for special in _COPY_SPECIAL_BYTES):
        datas = list(map(_copy_escaped, datas))
    head = f"{run_id}\t{entity.translate(_COPY_ESCAPES)}\t{rank}\tf\t".encode()
    lines = map(b"\t".join, zip(*text, datas, strict=True))
    return head + (b"\n" + head).join(lines) + b"\n"


def _copy_column(values: list[Any]) -> list[bytes]:
    try:
        joined = "".join(filter(None, values))
    except TypeError:  # a value that is not a string: its text, as a driver would bind it
        values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        joined = "".join(filter(None, values))
    if any(special in joined for special in _COPY_SPECIAL):
        values = [None if v is None else v.translate(_COPY_ESCAPES) for v in values]
    return [b"\\N" if v is None else v.encode() for v in values]


def _sql(style: str, rows: int, references: bool) -> str:
    key = (style, rows, references)
    found = _statements.get(key)
    if found is None:
        found = _statements[key] = (sqlite_insert(rows, references) if style == "sqlite"
                                    else insert_statement(style, rows))
    return found


def sqlite_insert(rows: int, references: bool) -> str:
    """Return the SQLite INSERT of `rows` rows: run, collection and rank once, then the rows.

    The rows are anonymous parameters of a VALUES list, numbered on after ?1 ?2 ?3: SQLite
    prepares a statement of numbered ones in time that grows with the square of their count.
    """
    width = 6 if references else 4
    refs = "column4, column5" if references else "NULL, NULL"
    row = "(" + ", ".join(["?"] * width) + ")"
    return (f"INSERT INTO {RunRecord.__tablename__} (run_id, entity, source_rank, superseded, "
            "sourced_id, status, date_last_modified, ref_a, ref_b, data) "
            "SELECT ?1, ?2, ?3, 0, column1, coalesce(nullif(column2, ''), 'active'), column3, "
            f"{refs}, column{width} FROM (VALUES {', '.join([row] * rows)})")


def insert_statement(paramstyle: str, rows: int) -> str:
    """Return an INSERT of several rows at once, in the driver's parameter style."""
    mark = "?" if paramstyle == "qmark" else "%s"
    values = "(" + ", ".join([mark] * len(COLUMNS)) + ")"
    return (f"INSERT INTO {RunRecord.__tablename__} ({', '.join(COLUMNS)}) "
            f"VALUES {', '.join([values] * rows)}")


def _ref(value: Any) -> str | None:
    if isinstance(value, Mapping):
        found = value.get("sourcedId")
        return None if found is None else str(found)
    return None
