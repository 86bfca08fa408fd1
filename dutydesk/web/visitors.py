"""Visitor screens: the ``visitors`` blueprint with all its routes.

The routes are split by domain: ``visitors_desk`` (search, check-in, badge slip, visit,
check-out, equipment, on site), ``visitors_admin`` (clients, authorised persons, access
requests) and ``visitors_log`` (the log and its CSV). Importing this module registers them all on
``bp``; shared helpers live in ``visitors_common``.
"""

from __future__ import annotations

from . import visitors_admin, visitors_desk, visitors_log
from .visitors_common import bp, parse_local_datetime, site_policy
from .visitors_log import log_query

__all__ = [
    "bp",
    "log_query",
    "parse_local_datetime",
    "site_policy",
    "visitors_admin",
    "visitors_desk",
    "visitors_log",
]
