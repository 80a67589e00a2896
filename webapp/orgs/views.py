"""The audit log as admins read it: filtered by action, person and connection, a page at a
time with repeated secret decryptions grouped, or whole as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, false, select

from webapp import tenancy
from webapp.extensions import db
from webapp.inputs import id_value
from webapp.models import AuditEvent, Connection, Membership, User

PAGE_SIZE = 50
DECRYPTED = "connection.secret_decrypted"
# Decryptions of one connection for one reason by one person this close together are one
# piece of work (a preview, a test, a run) reading the secret more than once.
GROUP_WITHIN = timedelta(minutes=2)
CSV_COLUMNS = ("time_utc", "person", "email", "action", "summary", "target_type", "target_id",
               "details")


@dataclass(frozen=True)
class Filters:
    """What the log is narrowed to; empty strings mean everything."""

    action: str = ""
    person: str = ""  # a user id, or "sdm" for what SDM did on its own
    connection: str = ""  # a connection id

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        return cls(*(str(args.get(name) or "").strip()[:64]
                     for name in ("action", "person", "connection")))

    @property
    def any(self) -> bool:
        return bool(self.action or self.person or self.connection)

    def args(self) -> dict[str, str]:
        return {k: v for k, v in (("action", self.action), ("person", self.person),
                                  ("connection", self.connection)) if v}


@dataclass
class Row:
    """One line of the page: an event, and how many like it were folded into it."""

    event: AuditEvent
    repeats: int = 1
    first_at: datetime | None = None
    folded: list[AuditEvent] = field(default_factory=list)


def query(filters: Filters) -> Select:
    """Return the active organization's events matching the filters, newest first."""
    statement = tenancy.scoped(AuditEvent)
    if filters.action:
        statement = statement.where(AuditEvent.action == filters.action)
    # An id that cannot exist (not a number, or beyond any id) matches nothing.
    if filters.person == "sdm":
        statement = statement.where(AuditEvent.actor_id.is_(None))
    elif filters.person:
        person = id_value(filters.person)
        statement = statement.where(false() if person is None else AuditEvent.actor_id == person)
    if filters.connection:
        connection = id_value(filters.connection)
        statement = statement.where(AuditEvent.target_type == "connection",
                                    AuditEvent.target_id == str(connection or ""))
    return statement.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def page(filters: Filters, number: int) -> Pagination:
    """Return one page of the filtered log."""
    return db.paginate(query(filters), page=number, per_page=PAGE_SIZE, error_out=False)


def grouped(events: list[AuditEvent]) -> list[Row]:
    """Fold runs of decryptions of one connection, for one reason, by one person, into a row."""
    rows: list[Row] = []
    for event in events:
        last = rows[-1] if rows else None
        if last is not None and _same_work(last, event):
            last.repeats += 1
            last.first_at = event.created_at
            last.folded.append(event)
        else:
            rows.append(Row(event, first_at=event.created_at))
    return rows


def _same_work(row: Row, event: AuditEvent) -> bool:
    head = row.event
    return (event.action == head.action == DECRYPTED
            and (event.target_id, event.actor_id) == (head.target_id, head.actor_id)
            and (event.details or {}).get("reason") == (head.details or {}).get("reason")
            and row.first_at is not None and row.first_at - event.created_at <= GROUP_WITHIN)


@dataclass(frozen=True)
class Choices:
    """What the filter menus offer: actions seen, people, connections."""

    actions: list[str]
    people: list[tuple[str, str]]
    connections: list[tuple[str, str]]


def choices() -> Choices:
    """Return the filter menus' options for the active organization."""
    actions = sorted(set(db.session.scalars(
        tenancy.scoped(AuditEvent).with_only_columns(AuditEvent.action).distinct())))
    org = tenancy.current_org()
    people = db.session.execute(
        select(User.id, User.name).join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == org.id).order_by(User.name)).all()
    connections = db.session.execute(
        tenancy.scoped(Connection).with_only_columns(Connection.id, Connection.name)
        .order_by(Connection.name)).all()
    return Choices(actions, [(str(i), n) for i, n in people] + [("sdm", "SDM (on its own)")],
                   [(str(i), n) for i, n in connections])


def csv_lines(filters: Filters) -> Iterator[str]:
    """Yield the filtered log as CSV, a header and then every event, newest first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + flush()  # a byte-order mark, so spreadsheets read UTF-8
    for event in db.session.scalars(query(filters).execution_options(yield_per=500)):
        actor = event.actor
        writer.writerow((event.created_at.replace(microsecond=0).isoformat(),
                         actor.name if actor else "SDM", actor.email if actor else "",
                         event.action, _cell(event.summary), event.target_type or "",
                         event.target_id or "",
                         json.dumps(event.details or {}, sort_keys=True, default=str)))
        yield flush()


def _cell(text: str) -> str:
    """Keep a spreadsheet from reading a cell as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
