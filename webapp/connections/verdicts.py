"""Verdicts a connection keeps from evidence other than its own test.

A test of the form's values that ended just before those very values were saved is the
saved connection's test: its verdict is kept instead of starting over at Configured. A run
that read every collection through a connection shows that the connection works.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import current_app

from webapp.extensions import db
from webapp.models import Connection, Job, JobStatus, Status, TestSummary
from webapp.models.common import utcnow
from webapp.models.connections import TESTED_FIELDS
from webapp.plugin_api import Checklist, ErrorCategory

KIND = "connection.test"  # the job kind of a connection test (webapp.connections.testing)
DIGEST_PARAM = "tested_digest"
KEPT_FOR = timedelta(hours=1)  # an older test of the same values is tested again


def digest(values: Mapping[str, str], secret_marker: str) -> str:
    """Return a keyed digest of tested values and their secret; never the secret itself.

    `secret_marker` is the typed secret, or "stored:<id>:<set at>" for a stored one.
    """
    tested = {k: values.get(k) or "" for k in sorted(TESTED_FIELDS) if k in values}
    payload = json.dumps(tested, sort_keys=True) + "\0" + secret_marker
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def stored_marker(connection: Connection) -> str:
    """Name a connection's stored secret in a digest: it changes when the secret is replaced."""
    return f"stored:{connection.id}:{connection.secret_set_at.isoformat()}"


def adopt(connection: Connection, job_id: str, values: Mapping[str, str], secret: str) -> bool:
    """Give a just-saved connection the verdict of a test of exactly its values.

    `secret` is the effective secret saved (typed, or a template's demo secret), or "" when
    an edit kept the stored one. Returns whether a verdict was kept.
    """
    job = db.session.get(Job, job_id) if job_id else None
    if job is None or job.kind != KIND or job.subject_id is not None \
            or job.organization_id != connection.organization_id \
            or JobStatus(job.status) != JobStatus.SUCCEEDED or not job.result \
            or job.finished_at is None or utcnow() - job.finished_at > KEPT_FOR:
        return False
    marker = secret or stored_marker(connection)
    expected = (job.params or {}).get(DIGEST_PARAM)
    if not expected or not hmac.compare_digest(expected, digest(values, marker)):
        return False
    checklist = Checklist.from_json(job.result)
    if not checklist.ended or (checklist.error is not None
                               and checklist.error.category == ErrorCategory.CANCELLED):
        return False
    connection.status = Status.SUCCESS if checklist.ok else Status.ERROR
    connection.test_summary = TestSummary.of(checklist, before_saving=True).to_json()
    connection.test_job_id = job.id
    connection.last_tested_at = job.finished_at
    connection.last_tested_by_id = job.created_by_id
    db.session.commit()
    return True


def record_run(run: Any) -> list[Connection]:
    """Let a run that read every collection of a source vouch for that source's connection.

    A connection never tested (or whose last failed test is older than the run) becomes
    Success, "working: last run …", unless it was edited since the run started. Returns the
    connections changed; the caller commits with the run.
    """
    started = run.started_at or run.created_at
    changed = []
    for source in run.sources or []:
        connection_id = (source.get("config") or {}).get("connection_id")
        collections = [c for c in run.collections if c.source_node == source["node"]]
        if not connection_id or not collections \
                or any(str(c.state) != "completed" for c in collections):
            continue
        connection = db.session.get(Connection, connection_id)
        if connection is None or connection.organization_id != run.organization_id \
                or connection.updated_at > started or connection.secret_set_at > started:
            continue
        if connection.status == Status.CONFIGURED or (
                connection.status == Status.ERROR and connection.last_tested_at is not None
                and connection.last_tested_at < started):
            records = sum(c.records or 0 for c in collections)
            connection.status = Status.SUCCESS
            connection.test_summary = TestSummary("Passed", run={
                "id": run.id, "flow": run.flow_name, "records": records,
                "collections": len(collections)}).to_json()
            connection.test_job_id = None
            connection.last_tested_at = utcnow()
            connection.last_tested_by_id = run.started_by_id
            changed.append(connection)
    return changed
