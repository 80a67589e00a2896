"""Pages already in the OneRoster 1.2 shape, read without building their records' dicts.

Most pages of a 1.2 server need no fixing: normalize.in_shape proves it, after parsing. Here
msgspec proves the same while it scans the body, against the types below, each of which
admits exactly what in_shape admits (a sourcedId that is a non-empty string, a status of
"active" or "tobedeleted", a user's roles as a list of known roles, no array sent as
comma-separated text...), ignoring every other field. The records then keep their JSON as
the server sent it, cut out of the body, and nothing else is built: reading a page this way
costs a fraction of parsing it into dicts, and a decoder process (oneroster/decoding.py)
sends back where each record lies in the body, not the records. A page that does not fit,
in any record, is read the usual way, where the fixers and the error messages are.
"""

from __future__ import annotations

import re
from itertools import accumulate, repeat
from operator import add, attrgetter
from typing import Annotated, Any, Literal

import msgspec

from oneroster.normalize import (
    CLASS_TYPES,
    DATA_TYPE,
    DEMOGRAPHIC_FLAGS,
    ENROLLMENT_ROLES,
    ORG_TYPES,
    SESSION_TYPES,
    SEXES,
    USER_ROLES,
)

# Whatever an array may be sent as, except the comma-separated text the fixers split.
NotText = list | dict | int | float | bool | None
BooleanText = Literal["true", "false"] | None


def _among(values: tuple[str, ...]) -> Any:
    return Literal[values] | None  # type: ignore[valid-type]


class _Record(msgspec.Struct, kw_only=True):
    sourcedId: Annotated[str, msgspec.Meta(min_length=1)]
    status: Literal["active", "tobedeleted"]
    dateLastModified: Any = None


class _Org(_Record):
    type: _among(ORG_TYPES) = None  # type: ignore[valid-type]


class _Session(_Record):
    type: _among(SESSION_TYPES) = None  # type: ignore[valid-type]


class _Course(_Record):
    grades: NotText = None
    subjects: NotText = None
    subjectCodes: NotText = None


class _Class(_Course):
    classType: _among(CLASS_TYPES) = None  # type: ignore[valid-type]
    periods: NotText = None


class _Role(msgspec.Struct):
    role: Literal[USER_ROLES]  # type: ignore[valid-type]


class _User(_Record):
    roles: list[_Role]
    primaryOrg: msgspec.Raw  # required, whatever it holds (null included)
    enabledUser: BooleanText = None
    grades: NotText = None


class _Enrollment(_Record):
    role: _among(ENROLLMENT_ROLES) = None  # type: ignore[valid-type]
    primary: BooleanText = None


_Demographics = msgspec.defstruct(
    "_Demographics", [("sex", _among(SEXES), None),
                      *((flag, BooleanText, None) for flag in DEMOGRAPHIC_FLAGS)],
    bases=(_Record,), kw_only=True)

_SHAPES = {"orgs": _Org, "courses": _Course, "classes": _Class, "users": _User,
           "enrollments": _Enrollment, "academicSessions": _Session,
           "demographics": _Demographics}
_ID, _STATUS, _MODIFIED = (attrgetter(name) for name in
                           ("sourcedId", "status", "dateLastModified"))
_NULL = msgspec.Raw(b"null")
# JSON that is stored as orjson writes it, not as sent: characters escaped that orjson writes
# as they are (a search of the stored text finds "Zoë", not "Zo\u00eb"), and line breaks.
# Each is looked for only where a byte search (memchr) found its first byte.
_BREAKS = (b"\n", b"\r", b"\t")
_ESCAPED = re.compile(rb"\\[u/]")
_PAYLOAD = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ALL = msgspec.json.Decoder(list[msgspec.Raw])
_IN_SHAPE = {data_type: msgspec.json.Decoder(list[shape]) for data_type, shape in _SHAPES.items()}


def rows_in_shape(entity: str, body: bytes) -> tuple[list, list, list, list[int], list[int]] | None:
    """Return a page's sourcedIds, statuses and dateLastModifieds, and where each record's
    JSON lies in the body (starts and lengths), when every record is in the 1.2 shape
    already and written as orjson would write it but for spaces; None when the page needs
    reading the usual way (not JSON, no list of records, a record to fix or to complain
    about, escapes or line breaks to write anew)."""
    if any(map(body.__contains__, _BREAKS)) or (b"\\" in body and _ESCAPED.search(body)):
        return None
    data_type = DATA_TYPE[entity]
    try:
        payload = _PAYLOAD.decode(body)
        held = payload.get(data_type)
        if held is None or held == _NULL:  # as normalize.page_rows: the path's key then
            held = payload.get(entity)
        if held is None:
            return None
        records = _IN_SHAPE[data_type].decode(held)
        raws = _ALL.decode(held)
    except msgspec.DecodeError:  # ValidationError included
        return None
    lengths = list(map(len, raws))
    return (list(map(_ID, records)), list(map(_STATUS, records)),
            list(map(_MODIFIED, records)), _starts(body, held, raws, lengths), lengths)


def _starts(body: bytes, held: msgspec.Raw, raws: list[msgspec.Raw],
            lengths: list[int]) -> list[int]:
    """Return where in the body each record (`raws`, of the list `held`) starts."""
    view = memoryview(held)
    at = body.find(view[:64])  # where the list starts, found by its first bytes...
    if at < 0 or not body.startswith(view, at):  # ...unless an earlier copy of them misled
        at = body.find(view)
    at += 1
    if len(view) == 1 + sum(lengths) + len(lengths):  # "[a,b,c]": no room for spaces
        return list(accumulate(map(add, lengths[:-1], repeat(1)), initial=at))
    starts = []
    for record in raws:  # only spaces and commas lie between two records
        at = body.find(memoryview(record), at)
        starts.append(at)
        at += len(record)
    return starts
