"""Probes: creation with a one-time enrolment token, enrolment, credentials, revocation.

Credential choice: a bearer key over HTTPS (not mTLS). The probe connects out only, through
whatever proxy the site has, and needs no certificate authority of ours; the key is 256 random
bits (``ddp_<probe id>_<43 url-safe chars>``), stored at the centre only as its SHA-256 and
compared in constant time; revoking the probe ends it at once. The enrolment token is shown once,
valid for ``ENROL_TTL``, and usable once (compare-and-set on its hash).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.core.security import secrets_equal
from dutydesk.sites.models import DEFAULT_SITE, CheckProbe, Probe, Site

ENROL_TTL = timedelta(hours=24)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
CREDENTIAL_RE = re.compile(r"^ddp_(\d{1,12})_([A-Za-z0-9_-]{43})$")


class ProbeError(ValueError):
    """A request about probes a person can fix (shown as a CLI error or a 4xx)."""


def digest(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (a slow hash is for passwords, not 256-bit keys)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Issued:
    probe_id: int
    secret: str  # shown once, never stored


def site_by_slug(s: Session, slug: str) -> Site:
    """The site of ``slug``; the default site is made again if it was deleted."""
    site = s.scalar(select(Site).where(Site.slug == slug))
    if site is None and slug == DEFAULT_SITE:
        site = Site(slug=DEFAULT_SITE, name="Default site", time_zone="UTC")
        s.add(site)
        s.flush()
    if site is None:
        raise ProbeError(f"no site {slug!r}")
    return site


def create_probe(s: Session, site_slug: str, name: str, now: datetime,
                 grace_seconds: float | None = None) -> Issued:
    """A new probe of the site with a one-time enrolment token (returned, stored hashed)."""
    if not NAME_RE.match(name or ""):
        raise ProbeError(f"probe name must be 1-64 of a-z 0-9 . _ - (starting with a letter or "
                         f"digit), got {name!r}")
    site = site_by_slug(s, site_slug)
    if s.scalar(select(Probe.id).where(Probe.site_id == site.id, Probe.name == name)):
        raise ProbeError(f"site {site_slug!r} already has a probe named {name!r}")
    if grace_seconds is not None and not 10 <= grace_seconds <= 86400:
        raise ProbeError(f"grace must be 10..86400 s, got {grace_seconds}")
    token = f"ddpe_{secrets.token_urlsafe(32)}"
    probe = Probe(site_id=site.id, name=name, enrol_token_hash=digest(token),
                  enrol_expires_at=now + ENROL_TTL, created_at=now)
    if grace_seconds is not None:
        probe.grace_seconds = grace_seconds
    s.add(probe)
    s.flush()
    return Issued(probe.id, token)


def find_probe(s: Session, site_slug: str, name: str) -> Probe:
    probe = s.scalar(select(Probe).join(Site, Site.id == Probe.site_id)
                     .where(Site.slug == site_slug, Probe.name == name))
    if probe is None:
        raise ProbeError(f"no probe {name!r} at site {site_slug!r}")
    return probe


def revoke_probe(s: Session, probe: Probe, now: datetime) -> None:
    """Its credential and any unused enrolment token stop working at once."""
    probe.revoked_at = now
    probe.credential_hash = None
    probe.enrol_token_hash = None


def reissue_token(s: Session, probe: Probe, now: datetime) -> Issued:
    """A new one-time enrolment token for an existing probe whose machine or state directory was
    replaced: it keeps its id, its checks and the sequence numbers the centre stored (the probe
    numbers its new results above them). The current credential works until the new token is
    used, which replaces it. A revoked probe stays revoked (create a new one)."""
    if probe.revoked_at is not None:
        raise ProbeError(f"probe {probe.name!r} was revoked: create a new probe instead")
    token = f"ddpe_{secrets.token_urlsafe(32)}"
    probe.enrol_token_hash = digest(token)
    probe.enrol_expires_at = now + ENROL_TTL
    s.flush()
    return Issued(probe.id, token)


def enrol(s: Session, token: str, now: datetime, version: str = "") -> Issued:
    """Exchange an unused, unexpired enrolment token for the probe's credential (once)."""
    if not isinstance(token, str) or not token.startswith("ddpe_") or len(token) > 100:
        raise ProbeError("invalid enrolment token")
    hashed = digest(token)
    probe = s.scalar(select(Probe).where(Probe.enrol_token_hash == hashed))
    if (probe is None or probe.revoked_at is not None or probe.enrol_expires_at is None
            or probe.enrol_expires_at <= now):
        raise ProbeError("invalid or expired enrolment token")
    secret = f"ddp_{probe.id}_{secrets.token_urlsafe(32)}"
    changed = s.execute(update(Probe).where(Probe.id == probe.id,
                                            Probe.enrol_token_hash == hashed)
                        .values(enrol_token_hash=None, enrol_expires_at=None,
                                credential_hash=digest(secret), version=version[:40],
                                last_contact_at=now)
                        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise ProbeError("invalid or expired enrolment token")
    return Issued(probe.id, secret)


def authenticate(s: Session, credential: str) -> Probe | None:
    """The live probe whose credential this is, else None (constant-time comparison)."""
    match = CREDENTIAL_RE.match(credential or "")
    if match is None:
        return None
    probe = s.get(Probe, int(match.group(1)))
    if probe is None or probe.revoked_at is not None or probe.credential_hash is None:
        return None
    return probe if secrets_equal(digest(credential), probe.credential_hash) else None


def assign_check(s: Session, check_id: int, probe: Probe | None) -> None:
    """Run the check on ``probe`` (None: on the central workers again)."""
    from checks.models import Check
    from checks.probes import CHECK_TYPES

    row = s.get(CheckProbe, check_id)
    check = s.get(Check, check_id)
    kind = CHECK_TYPES.get(check.type) if check is not None else None
    if probe is not None and kind is not None and kind.passive:
        raise ProbeError(f"check {check.slug!r} is a push check: the centre receives its "
                         "pings, no probe runs it")
    if probe is None:
        if row is not None:
            s.delete(row)
        return
    if row is None:
        s.add(CheckProbe(check_id=check_id, probe_id=probe.id))
    else:
        row.probe_id = probe.id


def _version(items: list[tuple[int, str, float, float]]) -> str:
    """The ETag of a probe's checks from (id, updated_at ISO, interval, timeout) in id order:
    the one rule :func:`probe_checks` and :func:`checks_version` share."""
    stamp = "|".join(f"{cid}:{updated}:{interval}:{timeout}"
                     for cid, updated, interval, timeout in items)
    return hashlib.sha256(stamp.encode()).hexdigest()[:32]


def _assigned(probe_id: int, *columns: Any) -> Any:
    from checks.models import Check

    return (select(*columns).join(CheckProbe, CheckProbe.check_id == Check.id)
            .where(CheckProbe.probe_id == probe_id, Check.enabled.is_(True))
            .order_by(Check.id))


def probe_checks(s: Session, probe: Probe) -> tuple[str, list[dict[str, Any]]]:
    """The enabled checks the probe runs, and their version (an ETag that changes whenever one
    of them is added, removed or edited)."""
    from checks.models import Check

    rows = s.scalars(_assigned(probe.id, Check)).all()
    checks = [{"id": c.id, "slug": c.slug, "type": c.type, "spec": dict(c.spec or {}),
               "interval": c.interval, "timeout": c.timeout,
               "updated_at": c.updated_at.isoformat()} for c in rows]
    return _version([(c["id"], c["updated_at"], c["interval"], c["timeout"])
                     for c in checks]), checks


def checks_version(conn: Any, probe_id: int) -> str:
    """The version :func:`probe_checks` would give, from four narrow columns (what a held
    long-poll asks twice a second; ``conn`` is a session or a read-only connection)."""
    from checks.models import Check

    rows = conn.execute(_assigned(probe_id, Check.id, Check.updated_at, Check.interval,
                                  Check.timeout)).all()
    return _version([(cid, updated.isoformat(), interval, timeout)
                     for cid, updated, interval, timeout in rows])


def runs_on(s: Session, check_id: int) -> tuple[str, str] | None:
    """(probe name, site name) of the probe that runs the check; None when the centre does."""
    row = s.execute(select(Probe.name, Site.name).join(CheckProbe, CheckProbe.probe_id == Probe.id)
                    .join(Site, Site.id == Probe.site_id)
                    .where(CheckProbe.check_id == check_id)).first()
    return (row[0], row[1]) if row else None
