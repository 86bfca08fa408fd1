"""All SQLAlchemy models, imported here so ``Base.metadata`` is complete (Alembic relies on it).

Models are split by domain; each module stays small. Add a new module to the import list below.
"""

from dutydesk.models.accounts import ApiToken, KioskLink, LoginFailure, Role, User, UserSession
from dutydesk.models.audit import AuditEntry
from dutydesk.models.checks import Check  # noqa: F401 (check engine tables)
from dutydesk.models.incidents import Incident, IncidentEventRow  # noqa: F401 (incidents)
from dutydesk.models.notices import StatusPageGeneration  # noqa: F401 (notices tables)
from dutydesk.models.notify import DeliveryAttempt, OutboxMessage
from dutydesk.models.shifts import ShiftScheduleRow  # noqa: F401 (shift schedules tables)
from dutydesk.models.system import WorkerHeartbeat
from dutydesk.models.visitors import (
    AccessRequestPerson,
    AccessRequestRow,
    AuthorisedPersonRow,
    EquipmentMovementRow,
    VisitorClient,
    VisitorClientContact,
    VisitRow,
)

__all__ = [
    "AccessRequestPerson",
    "AccessRequestRow",
    "ApiToken",
    "AuditEntry",
    "AuthorisedPersonRow",
    "DeliveryAttempt",
    "EquipmentMovementRow",
    "KioskLink",
    "LoginFailure",
    "OutboxMessage",
    "Role",
    "User",
    "UserSession",
    "VisitRow",
    "VisitorClient",
    "VisitorClientContact",
    "WorkerHeartbeat",
]
