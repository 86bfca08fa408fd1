"""The ``visitors`` settings section turned into the site and retention policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import SitePolicy, VisitorDataError
from .retention import RetentionPolicy
from .storage_common import VisitorInputError

SETTINGS_KEYS = {
    "timezone",
    "require_nda",
    "require_safety_form",
    "safety_briefing_valid_days",
    "deactivate_after_days",
    "purge_after_days",
    "four_eyes",
    "four_eyes_off_reason",
}


def policies_from_settings(
    extra: Mapping[str, Any] | None, default_timezone: str
) -> tuple[SitePolicy, RetentionPolicy]:
    """The site and retention policies from the ``visitors`` settings section.

    Keys: timezone (IANA, default: the app's zone), require_nda, require_safety_form (bool,
    default true), safety_briefing_valid_days (int or null, default 365), four_eyes (bool,
    default true; false needs four_eyes_off_reason: an access request's author may then approve
    it, and the reason goes into the audit),
    deactivate_after_days (default 365), purge_after_days (default 365, at least 90).
    """
    section = dict(extra or {})
    unknown = sorted(set(section) - SETTINGS_KEYS)
    if unknown:
        raise VisitorInputError(
            "visitors",
            f"unknown setting(s) {', '.join(unknown)}; allowed: {', '.join(sorted(SETTINGS_KEYS))}",
        )
    for key in ("require_nda", "require_safety_form", "four_eyes"):
        if key in section and not isinstance(section[key], bool):
            raise VisitorInputError(
                f"visitors.{key}", f"must be true or false, got {section[key]!r}"
            )
    try:
        site = SitePolicy(
            timezone=section.get("timezone", default_timezone),
            require_nda=section.get("require_nda", True),
            require_safety_form=section.get("require_safety_form", True),
            safety_briefing_valid_days=section.get("safety_briefing_valid_days", 365),
            four_eyes=section.get("four_eyes", True),
            four_eyes_off_reason=str(section.get("four_eyes_off_reason") or ""),
        )
        retention = RetentionPolicy(
            deactivate_after_days=section.get("deactivate_after_days", 365),
            purge_after_days=section.get("purge_after_days", 365),
        )
    except (VisitorDataError, ValueError) as exc:
        raise VisitorInputError("visitors", str(exc)) from None
    return site, retention
