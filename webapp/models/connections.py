"""Saved OneRoster API connections, shared by every member of an organization."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.accounts import User
from webapp.models.common import Timestamps
from webapp.plugin_reports import Checklist
from webapp.plugin_types import AUTH_METHOD_LABELS, AuthMethod

__all__ = ["AUTH_METHOD_LABELS", "AuthMethod", "Connection", "Status", "TESTED_FIELDS",
           "TestSummary"]


class Status(enum.StrEnum):
    CONFIGURED = "configured"
    TESTING = "testing"
    SUCCESS = "success"
    ERROR = "error"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True)
class TestSummary:
    """What a connection keeps of its last test beside its status: the verdict in brief.

    The test's checklist lives on its job (``Connection.test_job_id``), never on the row.
    """

    __test__ = False  # not a pytest class, despite its name

    title: str = ""  # "Passed", or why the test failed
    step: str | None = None  # the step that failed
    elapsed_ms: int | None = None
    run: Mapping[str, Any] | None = None  # a run that vouched for it: id, flow, records, ...
    cancelled: Mapping[str, Any] | None = None  # a later test that was cancelled: by, at
    before_saving: bool = False  # a test of the form's values, adopted when they were saved

    @classmethod
    def of(cls, checklist: Checklist, **more: Any) -> TestSummary:
        """Return the brief verdict of a test's final checklist."""
        error = checklist.error
        return cls(title="Passed" if checklist.ok else (error.title if error else "Failed"),
                   step=error.step if error and not checklist.ok else None,
                   elapsed_ms=checklist.elapsed_ms, **more)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> TestSummary:
        data = data or {}
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# Changing any of these invalidates the last test result.
TESTED_FIELDS = ("base_url", "client_id", "auth_url", "proxy_country", "auth_method",
                 "signature_method", "oneroster_version", "scopes")


class Connection(Timestamps, db.Model):
    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(32), default="custom")
    base_url: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # Fernet token written and read only through webapp.crypto.
    client_secret_encrypted: Mapped[str] = mapped_column(Text)
    secret_set_at: Mapped[datetime]
    auth_url: Mapped[str | None] = mapped_column(String(500))
    proxy_country: Mapped[str | None] = mapped_column(String(2))
    oneroster_version: Mapped[str] = mapped_column(String(8), default="1.2")
    auth_method: Mapped[AuthMethod] = mapped_column(String(16), default=AuthMethod.OAUTH2_BASIC)
    # OAuth 1.0a only: HMAC-SHA256, or HMAC-SHA1 for servers that accept nothing else.
    signature_method: Mapped[str] = mapped_column(String(16), default="HMAC-SHA256",
                                                  server_default="HMAC-SHA256")
    scopes: Mapped[str] = mapped_column(String(1000), default="")

    status: Mapped[Status] = mapped_column(String(16), default=Status.CONFIGURED)
    last_tested_at: Mapped[datetime | None]
    last_tested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # The verdict's summary (a TestSummary); the checklist is on the test's job.
    test_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The running test's job, or the job of the test behind the verdict.
    test_job_id: Mapped[str | None] = mapped_column(String(36))

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    last_tested_by: Mapped[User | None] = relationship(foreign_keys=[last_tested_by_id])

    @property
    def summary(self) -> TestSummary:
        return TestSummary.from_json(self.test_summary)

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.name!r}>"
