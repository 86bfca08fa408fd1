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
from dutydesk.sites.models import CheckProbe, Probe, Site

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
    """The site of ``slug`` (the one lookup, :func:`dutydesk.core.site_registry.find_site`)."""
    from dutydesk.core.site_registry import SiteError, find_site

    try:
        return find_site(s, slug)
    except SiteError as exc:
        raise ProbeError(str(exc)) from None


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
    """Run the check on ``probe`` alone (None: on the central workers alone again). Refused
    (:class:`ProbeError`) for a push check and for a check of another site than the probe's."""
    set_locations(s, check_id, [probe] if probe is not None else [], centre=probe is None,
                  min_down=1)


def set_locations(s: Session, check_id: int, probes: list[Probe], *, centre: bool,
                  min_down: int | None = None) -> None:
    """The check's locations become ``probes`` (and the central workers when ``centre``, or
    when there is no probe) and, when given, ``min_down`` = k of n (1..n, else ProbeError).
    A check whose only location is one probe runs inside that probe's site, so it must be a
    check of that site; with several locations, other sites' probes are vantage points."""
    from checks.models import Check
    from checks.probes import CHECK_TYPES

    check = s.get(Check, check_id)
    if check is None:
        raise ProbeError(f"no check {check_id}")
    kind = CHECK_TYPES.get(check.type)
    if probes and kind is not None and kind.passive:
        raise ProbeError(f"check {check.slug!r} is a push check: the centre receives its "
                         "pings, no probe runs it")
    if len(probes) == 1 and not centre and check.site_id != probes[0].site_id:
        probe = probes[0]
        check_site, probe_site = s.get(Site, check.site_id), s.get(Site, probe.site_id)
        raise ProbeError(f"check {check.slug!r} belongs to site "
                         f"{check_site.slug if check_site else '?'!r} and probe {probe.name!r} "
                         f"to site {probe_site.slug if probe_site else '?'!r}: a probe runs "
                         "only checks of its own site (move the check to that site first, or "
                         "add the centre or more locations to watch it from outside)")
    if any(p.revoked_at is not None for p in probes):
        raise ProbeError("a revoked probe cannot be a location")
    wanted = {p.id for p in probes}
    n = len(wanted) + (1 if centre or not wanted else 0)
    k = check.min_locations_down if min_down is None else min_down
    if not isinstance(k, int) or not 1 <= k <= n:
        raise ProbeError(f"min locations down must be 1..{n} (the check's locations), got {k}")
    for row in s.scalars(select(CheckProbe).where(CheckProbe.check_id == check_id)):
        if row.probe_id in wanted:
            wanted.discard(row.probe_id)
        else:
            s.delete(row)
    for probe_id in sorted(wanted):
        s.add(CheckProbe(check_id=check_id, probe_id=probe_id))
    check.run_at_centre = bool(centre and probes)
    check.min_locations_down = k
    s.flush()


def probes_elsewhere(s: Session, check_id: int, site_id: int) -> list[str]:
    """The probe that runs the check inside another site than ``site_id``, when it is the
    check's only location (moving the check to ``site_id`` is refused meanwhile: a check run by
    one probe runs inside that probe's site); empty otherwise (several locations watch it
    from wherever they are)."""
    from checks.models import Check

    check = s.get(Check, check_id)
    rows = s.execute(select(Probe.name, Probe.site_id)
                     .join(CheckProbe, CheckProbe.probe_id == Probe.id)
                     .where(CheckProbe.check_id == check_id)).all()
    if check is None or check.run_at_centre or len(rows) != 1:
        return []
    return [rows[0].name] if rows[0].site_id != site_id else []


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


def runs_on(s: Session, check_id: int) -> list[Any]:
    """What each of the check's locations saw last (:class:`checks.locations.Seen`, in the
    order ``centre``, ``site/probe``...); empty when the centre alone runs it (as before)."""
    from checks.locations import CheckLocationState, Seen, locations_of
    from checks.models import Check
    from checks.result import Status

    check = s.get(Check, check_id)
    places = locations_of(s, check_id, bool(check and check.run_at_centre))
    if list(places) == ["centre"]:
        return []
    stored = {r.location: r for r in s.scalars(
        select(CheckLocationState).where(CheckLocationState.check_id == check_id))}
    return [Seen(name, Status(stored[key].status), stored[key].message, stored[key].at)
            if key in stored else Seen(name, Status.UNKNOWN, "", None)
            for key, name in places.items()]
