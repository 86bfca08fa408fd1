"""All SQLAlchemy models, imported here so ``Base.metadata`` is complete (Alembic relies on it).

Models are split by domain; each module stays small. Add a new module to the import list below.
"""

from checks.locations import CheckLocationState  # noqa: F401 (several locations)
from checks.models import Check  # noqa: F401 (check engine tables)
from dutydesk.core.models.accounts import (
    ApiToken,
    KioskLink,
    LoginFailure,
    RecoveryCode,
    Role,
    TwoFactor,
    User,
    UserSession,
)
from dutydesk.core.models.audit import AuditEntry
from dutydesk.core.models.mailin import MailIntakeRow  # noqa: F401 (the mail intake ledger)
from dutydesk.core.models.notify import DeliveryAttempt, OutboxMessage
from dutydesk.core.models.system import WorkerHeartbeat
from dutydesk.facility.models import FacilityHeard, FacilityRulesRow  # noqa: F401
from dutydesk.incidents.chat.models import ChatLink, ChatMessage  # noqa: F401 (chat actions)
from dutydesk.incidents.models import Incident, IncidentEventRow  # noqa: F401 (incidents)
from dutydesk.requests.catalog.models import CatalogItemRow  # noqa: F401 (service catalog)
from dutydesk.requests.kb.models import ArticleRow  # noqa: F401 (knowledge base)
from dutydesk.requests.models import (  # noqa: F401 (requests)
    IncidentFollower,
    NoticeRelay,
    RequestAttachment,
    RequestEventRow,
    RequestMailRef,
    RequestRating,
    ServiceRequest,
)
from dutydesk.sites.models import CheckProbe, Probe, Site  # noqa: F401 (sites, probes)
from shifts.models import ShiftScheduleRow  # noqa: F401 (shift schedules tables)
from shifts.notices.orm import StatusPageGeneration  # noqa: F401 (notices tables)
from shifts.visitors.orm import (
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
    "RecoveryCode",
    "Role",
    "TwoFactor",
    "User",
    "UserSession",
    "VisitRow",
    "VisitorClient",
    "VisitorClientContact",
    "WorkerHeartbeat",
]
