"""Key rotation: every stored secret re-encrypted under the newest configured key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from webapp import crypto
from webapp.connections.testing import SECRET_PARAM
from webapp.extensions import db
from webapp.models import Connection, Job


@dataclass(frozen=True)
class RotationReport:
    """What a rotation re-encrypted, and what no configured key could open."""

    connections: int
    jobs: int
    unreadable: tuple[str, ...]


def rotate_stored_secrets() -> RotationReport:
    """Re-encrypt connection secrets and the secrets pending tests carry; commit once."""
    unreadable: list[str] = []
    connections = jobs = 0
    for connection in db.session.scalars(select(Connection).order_by(Connection.id)):
        try:
            connection.client_secret_encrypted = crypto.rotate(
                connection.client_secret_encrypted)
            connections += 1
        except crypto.SecretUnreadable:
            unreadable.append(f"connection {connection.id} “{connection.name}”")
    for job in db.session.scalars(select(Job).order_by(Job.created_at)):
        params = job.params or {}
        if SECRET_PARAM not in params:
            continue
        try:
            job.params = {**params, SECRET_PARAM: crypto.rotate(params[SECRET_PARAM])}
            jobs += 1
        except crypto.SecretUnreadable:
            unreadable.append(f"pending test {job.id}")
    db.session.commit()
    return RotationReport(connections, jobs, tuple(unreadable))
