"""Inbound integrations: create, find by key, revoke. Keys are shown once and stored hashed.

- **pagerduty**: the key is a 32-character routing key (PagerDuty's length, so existing clients
  validate it), sent in the request body of ``POST /v2/enqueue``.
- **alertmanager**: the key is sent as ``Authorization: Bearer <key>`` to
  ``POST /api/v1/integrations/alertmanager``, which looks it up here (``find_by_key``). It is
  *not* an API token: everywhere else the app's token authentication refuses it (403), so a key
  copied out of an Alertmanager config can post alerts and read nothing. (Until migration 0011
  each key was also a viewer-role API token; that migration removed those tokens.)
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.db import utcnow
from dutydesk.core.security import Principal, digest_secret
from dutydesk.incidents.models import INTEGRATION_TYPES, Integration


class IntegrationError(ValueError):
    """Bad integration input; the message names the field and what is allowed."""


def create_integration(
    session: Session, actor: Principal | str, *, type: str, name: str, service: str | None = None
) -> tuple[Integration, str]:
    """Create an integration; returns it and its key (plaintext, shown once)."""
    kind = (type or "").strip().lower()
    if kind not in INTEGRATION_TYPES:
        raise IntegrationError(f"type must be one of {', '.join(INTEGRATION_TYPES)}, got {type!r}")
    name = (name or "").strip()
    if not name:
        raise IntegrationError("name must say what sends the alerts, e.g. 'prometheus-dc1'")
    key = secrets.token_hex(16)  # 32 characters, like a PagerDuty routing key
    label = actor.label if isinstance(actor, Principal) else actor
    now = utcnow()
    integration = Integration(
        type=kind,
        name=name[:120],
        key_prefix=key[:8],
        key_hash=digest_secret(key),
        service=service or None,
        created_by=label,
        created_at=now,
    )
    session.add(integration)
    session.flush()
    audit.record(
        session,
        actor,
        "integration.create",
        "integration",
        integration.id,
        summary=f"created {kind} integration {name!r}",
        after={"type": kind, "name": name, "prefix": integration.key_prefix},
    )
    return integration, key


def find_active_key(session: Session, key: str) -> Integration | None:
    """The active integration (of any type) whose key is ``key``, or ``None``."""
    integration = session.scalar(
        select(Integration).where(Integration.key_hash == digest_secret(key))
    )
    if integration is None or not integration.active:
        return None
    return integration


def find_by_key(session: Session, key: str, type: str) -> Integration | None:
    """The active integration of ``type`` whose key is ``key``, or ``None``."""
    integration = find_active_key(session, key)
    if integration is None or integration.type != type:
        return None
    return integration


def revoke_integration(session: Session, actor: Principal | str, integration: Integration) -> None:
    integration.revoked_at = utcnow()
    audit.record(
        session,
        actor,
        "integration.revoke",
        "integration",
        integration.id,
        summary=f"revoked {integration.type} integration {integration.name!r}",
    )
