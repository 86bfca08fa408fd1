"""Sites and remote probes on the wall, pure: what each site's summary and each probe's trouble is.

Rules:

- **Probe health is not target health**: a probe in trouble is its own row on the wall, never a
  check tile. A probe is in trouble when it is
  *offline* (silent longer than its grace, :func:`dutydesk.sites.health.is_offline`),
  *lagging* (silent longer than ``LAG_SECONDS`` — twice the probe's 10 s check pull, so even a
  probe with nothing to push has been heard from — but still within its grace), or
  *buffering* (it said at its last contact that ``BUFFER_ALERT`` or more results wait in its
  buffer: it is replaying an outage or cannot keep up). The results it dropped (a running total
  the probe reports) are named in the row but do not make trouble alone: the total never goes
  down, so the row would never go away. A probe never heard from since enrolment, or revoked,
  is not on the wall (the admin page of probes shows it).
- Troubles are ordered offline, lagging, buffering, then by site and name.
- **Site summary** (the head office's strip): per site its problem counts, open and
  unacknowledged incidents, how many of its probes are in trouble, and its worst colour:
  critical, then warning, then unknown (a probe in trouble counts as unknown: the site's data
  may be incomplete), else ok.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dutydesk.sites.health import ProbeSeen, is_offline
from dutydesk.wall.snapshot import Counts

#: Silent longer than this (but within grace): lagging.
LAG_SECONDS = 20.0
#: Results waiting in a probe's buffer at its last contact from which the wall shows it.
BUFFER_ALERT = 1000
_KIND_RANK = {"offline": 0, "lagging": 1, "buffering": 2}


@dataclass(frozen=True, slots=True)
class SiteInfo:
    id: int
    slug: str
    name: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class ProbeRow:
    """What the centre knows of an enrolled, not revoked probe."""

    id: int
    name: str
    site_slug: str
    site_name: str
    time_zone: str
    last_contact_at: datetime | None
    grace_seconds: float
    buffer_depth: int
    dropped_total: int


@dataclass(frozen=True, slots=True)
class ProbeTrouble:
    key: str
    probe: ProbeRow
    kind: str  # offline | lagging | buffering
    silent_for: timedelta


@dataclass(frozen=True, slots=True)
class SiteSummary:
    site: SiteInfo
    counts: Counts
    open_incidents: int
    unacknowledged: int
    probe_trouble: int

    @property
    def worst(self) -> str:
        if self.counts.critical:
            return "critical"
        if self.counts.warning:
            return "warning"
        if self.counts.unknown or self.probe_trouble:
            return "unknown"
        return "ok"


def probe_trouble(probe: ProbeRow, now: datetime) -> ProbeTrouble | None:
    """The probe's trouble at ``now`` (``None``: healthy, or never heard from)."""
    if probe.last_contact_at is None:
        return None
    silent = max(now - probe.last_contact_at, timedelta(0))
    seconds = silent.total_seconds()
    seen = ProbeSeen(probe.id, probe.name, probe.site_slug, probe.time_zone,
                     probe.last_contact_at, probe.grace_seconds)
    if is_offline(seen, now):
        kind = "offline"
    elif seconds > LAG_SECONDS:
        kind = "lagging"
    elif probe.buffer_depth >= BUFFER_ALERT:
        kind = "buffering"
    else:
        return None
    return ProbeTrouble(key=f"probe-{probe.id}", probe=probe, kind=kind, silent_for=silent)


def probe_troubles(probes: Iterable[ProbeRow], now: datetime) -> tuple[ProbeTrouble, ...]:
    """Probes in trouble, worst first."""
    found = [t for p in probes if (t := probe_trouble(p, now)) is not None]
    found.sort(key=lambda t: (_KIND_RANK[t.kind], t.probe.site_slug, t.probe.name))
    return tuple(found)


def site_summaries(
    sites: Sequence[SiteInfo],
    counts: dict[int, Counts],
    incidents: dict[int, tuple[int, int]],
    troubles: Sequence[ProbeTrouble],
) -> tuple[SiteSummary, ...]:
    """One summary per site, in the order of ``sites``. ``incidents``: per site id, (open,
    unacknowledged); a site missing from ``counts``/``incidents`` has none."""
    by_site: dict[str, int] = {}
    for t in troubles:
        by_site[t.probe.site_slug] = by_site.get(t.probe.site_slug, 0) + 1
    return tuple(
        SiteSummary(
            site=s,
            counts=counts.get(s.id, Counts()),
            open_incidents=incidents.get(s.id, (0, 0))[0],
            unacknowledged=incidents.get(s.id, (0, 0))[1],
            probe_trouble=by_site.get(s.slug, 0),
        )
        for s in sites
    )
