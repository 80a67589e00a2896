"""SQLAlchemy models, one module per aggregate."""

from webapp.models.accounts import Invite, Membership, Organization, Role, User
from webapp.models.audit import AuditEvent
from webapp.models.connections import AuthMethod, Connection, Status, TestSummary
from webapp.models.flows import Flow, FlowDraft, FlowMode
from webapp.models.jobs import Job, JobStatus
from webapp.models.notifications import (
    ConnectionCheck,
    Delivery,
    DeliveryState,
    EventKind,
    NotificationChoice,
    NotificationEvent,
    Webhook,
)
from webapp.models.runs import (
    CollectionState,
    Run,
    RunCollection,
    RunRecord,
    RunReference,
    RunStatus,
    RunTrigger,
)
from webapp.models.schedules import Cadence, DueRun, DueRunOutcome, Schedule

__all__ = [
    "AuditEvent",
    "AuthMethod",
    "Cadence",
    "CollectionState",
    "Connection",
    "ConnectionCheck",
    "Delivery",
    "DeliveryState",
    "DueRun",
    "DueRunOutcome",
    "Flow",
    "EventKind",
    "FlowDraft",
    "FlowMode",
    "Invite",
    "Job",
    "JobStatus",
    "Membership",
    "NotificationChoice",
    "NotificationEvent",
    "Organization",
    "Role",
    "Run",
    "RunCollection",
    "RunRecord",
    "RunReference",
    "RunStatus",
    "RunTrigger",
    "Schedule",
    "Status",
    "TestSummary",
    "User",
    "Webhook",
]
