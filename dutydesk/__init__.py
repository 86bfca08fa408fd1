"""DutyDesk: the duty engineer's monitoring wall, incidents, shifts, visitors and status page.

``create_app`` is loaded on first use, so importing the core (``dutydesk.core``) from a domain does
not pull in the web application.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from dutydesk.app import create_app

__all__ = ["__version__", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from dutydesk.app import create_app

        return create_app
    raise AttributeError(f"module 'dutydesk' has no attribute {name!r}")
