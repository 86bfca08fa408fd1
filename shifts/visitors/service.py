"""The visitor log's storage service, in one import: load rows, ask the pure rules, write, audit.

The code lives in modules by domain; this module re-exports their public names so callers can
keep writing ``from shifts.visitors import service as svc``:

- ``settings``: ``policies_from_settings`` (the ``visitors`` settings section);
- ``clients``: clients, contacts, authorised persons;
- ``access_requests``: create and decide access requests;
- ``desk``: check-in, check-out, equipment movements;
- ``attendance``: no-shows recorded when a request window ends;
- ``presence``: on site now, overstays, expected today, no-shows, handoff badges, wall summary;
- ``visit_log``: the log as CSV;
- ``purge``: the retention run (rule 6).

Every function takes the SQLAlchemy ``session`` (the caller commits), the ``actor`` (a
``Principal`` or a label, for the audit log) and, where time matters, ``now`` (aware UTC).
Errors: bad input raises ``VisitorInputError`` (a ValueError naming the field); a missing row
raises ``VisitorNotFound`` (a LookupError).
"""

from __future__ import annotations

from . import rows as R
from .access_requests import (
    FourEyesError,
    check_four_eyes,
    create_request,
    decide_request,
    may_approve,
)
from .attendance import NO_SHOW_LOOKBACK, mark_no_shows
from .clients import (
    add_authorised_person,
    add_contact,
    create_client,
    set_client_active,
    set_escort_required,
    set_person_active,
)
from .decision import RuleCode
from .desk import (
    REQUEST_LOOKBACK,
    CheckInOutcome,
    check_in,
    check_out,
    movements_of,
    record_equipment,
)
from .model import Direction
from .presence import (
    expected_now,
    on_site_now,
    on_site_summary,
    open_badges_now,
    overstays_now,
)
from .purge import RetentionReport, run_retention
from .reports import OnSiteSummary, OpenBadge
from .settings import SETTINGS_KEYS, policies_from_settings
from .storage_common import VisitorInputError, VisitorNotFound
from .visit_log import CSV_COLUMNS, csv_rows, export_csv

__all__ = [
    "CSV_COLUMNS",
    "NO_SHOW_LOOKBACK",
    "REQUEST_LOOKBACK",
    "SETTINGS_KEYS",
    "CheckInOutcome",
    "Direction",
    "FourEyesError",
    "OnSiteSummary",
    "OpenBadge",
    "R",
    "RetentionReport",
    "RuleCode",
    "VisitorInputError",
    "VisitorNotFound",
    "add_authorised_person",
    "add_contact",
    "check_four_eyes",
    "check_in",
    "check_out",
    "create_client",
    "create_request",
    "csv_rows",
    "decide_request",
    "expected_now",
    "export_csv",
    "mark_no_shows",
    "may_approve",
    "movements_of",
    "on_site_now",
    "on_site_summary",
    "open_badges_now",
    "overstays_now",
    "policies_from_settings",
    "record_equipment",
    "run_retention",
    "set_client_active",
    "set_escort_required",
    "set_person_active",
]
