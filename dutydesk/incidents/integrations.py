"""Inbound integrations: create, find by key, revoke. Keys are shown once and stored hashed.

- **pagerduty**: the key is a 32-character routing key (PagerDuty's length, so existing clients
  validate it), sent in the request body of ``POST /v2/enqueue``.
- **alertmanager**: the key is sent as ``Authorization: Bearer <key>``; it is also registered as
  a viewer-role API token so the app's token authentication recognises it (the receiver then
  checks that the token belongs to an active Alertmanager integration).
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk import audit
from dutydesk.db import utcnow
from dutydesk.models import ApiToken, Role
from dutydesk.models.incidents import INTEGRATION_TYPES, Integration
from dutydesk.security import Principal, digest_secret


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
    token_id = None
    if kind == "alertmanager":
        token = ApiToken(
            name=f"integration:{name}"[:120],
            role=Role.VIEWER,
            prefix=key[:8],
            token_hash=digest_secret(key),
            created_at=now,
        )
        session.add(token)
        session.flush()
        token_id = token.id
    integration = Integration(
        type=kind,
        name=name[:120],
        key_prefix=key[:8],
        key_hash=digest_secret(key),
        api_token_id=token_id,
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


def find_by_key(session: Session, key: str, type: str) -> Integration | None:
    """The active integration of ``type`` whose key is ``key``, or ``None``."""
    integration = session.scalar(
        select(Integration).where(Integration.key_hash == digest_secret(key))
    )
    if integration is None or not integration.active or integration.type != type:
        return None
    return integration


def find_by_token(session: Session, token_id: int) -> Integration | None:
    integration = session.scalar(select(Integration).where(Integration.api_token_id == token_id))
    if integration is None or not integration.active:
        return None
    return integration


def revoke_integration(session: Session, actor: Principal | str, integration: Integration) -> None:
    now = utcnow()
    integration.revoked_at = now
    if integration.api_token_id is not None:
        token = session.get(ApiToken, integration.api_token_id)
        if token is not None and token.revoked_at is None:
            token.revoked_at = now
    audit.record(
        session,
        actor,
        "integration.revoke",
        "integration",
        integration.id,
        summary=f"revoked {integration.type} integration {integration.name!r}",
    )
