"""DutyDesk: the duty engineer's monitoring wall, incidents, shifts, visitors and status page."""

from __future__ import annotations

__version__ = "0.1.0"

from dutydesk.app import create_app

__all__ = ["__version__", "create_app"]
