"""The "Locations" part of the check editor: where a check runs and how many must see it down.

The form posts ``locations_shown=1`` (so an empty selection is told from a form without the
fieldset), one ``location`` per ticked box (``centre`` or ``probe:<id>``) and
``min_locations_down`` (k). :func:`read_locations` turns that into a :class:`Selection` (or None:
the form had no locations part, the stored ones stay); :func:`save_locations` applies it with
:func:`dutydesk.sites.service.set_locations` in the caller's transaction, so a refusal
(:class:`~dutydesk.sites.service.ProbeError`: k outside 1..n, a revoked probe, a push check, a
check run by one probe of another site) leaves the caller to roll the whole edit back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from checks.locations import CENTRE, location_of_probe, locations_of
from checks.models import Check
from dutydesk.core import audit
from dutydesk.sites.models import CheckProbe, Probe, Site
from dutydesk.sites.service import ProbeError, set_locations

_PROBE_KEY = re.compile(r"^probe:(\d{1,9})$")


@dataclass(frozen=True, slots=True)
class Selection:
    """What the form asks: the central workers or not, the probes (ids), k."""

    centre: bool
    probe_ids: tuple[int, ...]
    min_down: int


def read_locations(form: MultiDict[str, str]) -> Selection | None:
    """The posted selection; None when the form had no locations part. ValueError (a message
    for the form) for an unknown location, no location at all or a k that is not a number."""
    if form.get("locations_shown") != "1":
        return None
    centre, probe_ids = False, []
    for key in form.getlist("location"):
        match = _PROBE_KEY.match(key)
        if key == CENTRE:
            centre = True
        elif match:
            probe_ids.append(int(match.group(1)))
        else:
            raise ValueError(f"location {key[:60]!r} is not one this form offers")
    if not centre and not probe_ids:
        raise ValueError("choose at least one location: the central workers or a probe")
    text = form.get("min_locations_down", "").strip() or "1"
    if not text.isdigit() or len(text) > 4:
        raise ValueError(f"min locations down must be a whole number, got {text[:20]!r}")
    return Selection(centre, tuple(sorted(set(probe_ids))), int(text))


def save_locations(s: Session, actor: Any, check: Check, selection: Selection, *,
                   created: bool) -> None:
    """Make the check's locations the selection, audited when they changed (a new check: when
    they are more than the centre). ProbeError when refused; the caller rolls back. A probe
    that no longer exists is refused here, a revoked one by ``set_locations``."""
    probes = list(s.scalars(select(Probe).where(Probe.id.in_(selection.probe_ids))))
    if len(probes) != len(selection.probe_ids):
        raise ProbeError("a chosen probe no longer exists: reload the page and choose again")
    before = None if created else described(s, check.id)
    set_locations(s, check.id, probes, centre=selection.centre, min_down=selection.min_down)
    after = described(s, check.id)
    if after != before and (before is not None or after != described_default()):
        audit.record(s, actor, "check.locations", "check", check.id,
                     summary=f"check {check.slug} runs at {', '.join(after['locations'])}; down "
                             f"when {after['min_locations_down']} of {len(after['locations'])} "
                             "see it down", before=before, after=after)


def described_default() -> dict[str, Any]:
    """A check's locations until someone chooses others: the centre alone, k = 1."""
    return {"locations": [CENTRE], "min_locations_down": 1}


def described(s: Session, check_id: int) -> dict[str, Any]:
    """The check's locations (``centre``, ``site/probe``...) and k, as audited."""
    check = s.get(Check, check_id)
    places = locations_of(s, check_id, bool(check and check.run_at_centre))
    return {"locations": list(places.values()),
            "min_locations_down": check.min_locations_down if check else 1}


def stored_values(s: Session, check: Check | None) -> dict[str, Any]:
    """What the fieldset shows: a new check runs at the centre only, k = 1."""
    if check is None:
        return {"location": [CENTRE], "min_locations_down": "1"}
    keys = list(locations_of(s, check.id, bool(check.run_at_centre)))
    return {"location": keys, "min_locations_down": str(check.min_locations_down)}


def posted_values(form: MultiDict[str, str]) -> dict[str, Any]:
    """The fieldset as posted (shown again with a refusal)."""
    if form.get("locations_shown") != "1":
        return {}
    return {"location": form.getlist("location"),
            "min_locations_down": form.get("min_locations_down", "")}


def choices(s: Session, check: Check | None) -> dict[str, Any]:
    """The boxes to offer: each live probe as (``probe:<id>``, "site name / probe name"), by
    site and probe name; and the revoked probes still among the check's locations (named, not
    offered: saving the form drops them)."""
    live = [(location_of_probe(pid), f"{site} / {name}") for pid, name, site in s.execute(
        select(Probe.id, Probe.name, Site.name).join(Site, Site.id == Probe.site_id)
        .where(Probe.revoked_at.is_(None)).order_by(Site.name, Probe.name))]
    revoked: list[str] = []
    if check is not None:
        revoked = [f"{site} / {name}" for name, site in s.execute(
            select(Probe.name, Site.name).join(Site, Site.id == Probe.site_id)
            .join(CheckProbe, CheckProbe.probe_id == Probe.id)
            .where(CheckProbe.check_id == check.id, Probe.revoked_at.is_not(None))
            .order_by(Site.name, Probe.name))]
    return {"probes": live, "revoked": revoked}
