"""Fitting the wall on one screen, pure: ``fit_screen(view, budget) -> Screen``.

The wall is laid out in ``rem`` scaled to the screen's height (32 px at 1080 lines, the same
proportions at 720 and 2160), so one budget in *units* (one unit ≈ one line of 32 px text at
1920×1080) fits every 16:9 screen. The rules:

- **Problems**: the most severe group keeps its first ``first_group_rows`` rows of tiles;
  every other problem group gets at least its one-line summary ("Hall C / Sensors —
  5 crit 2 warn"), in severity order. Space left over expands groups into tiles, most severe
  group first; a group that does not fit whole shows the tiles that fit and stops the
  expansion, so a less severe group is never detailed while a worse one is cut. When even
  the summaries do not fit, the last line says how many groups (and which problems) are left.
- **Incidents**: the most urgent ``incident_rows`` (order from ``snapshot.order_incidents``),
  then "+N more (M breached)".
- **Pages** (optional rotation): page 1 is the fitted screen; further pages keep the most
  severe group where it is and detail the groups page 1 could only summarise. Nothing on
  page 1's worst group is ever hidden by rotation.

The browser trims further when text wraps more than the budget assumed (``wall.js``), always
from the bottom, i.e. the least severe end.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from dutydesk.wall.snapshot import Counts, Group, IncidentTile, Tile, WallView


@dataclass(frozen=True, slots=True)
class ScreenBudget:
    problem_units: int = 12  # lines of 32 px (a group summary is one) in the problems column
    tile_columns: int = 2
    tile_units: int = 2  # a tile row: the name line and its message line
    first_group_rows: int = 2  # tile rows kept for the most severe group, whatever else there is
    incident_rows: int = 9

    def __post_init__(self) -> None:
        for name in ("problem_units", "tile_columns", "tile_units", "incident_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.first_group_rows * self.tile_units + 2 > self.problem_units:
            raise ValueError("first_group_rows leave no room for the other groups' summaries")


@dataclass(frozen=True, slots=True)
class GroupSlot:
    group: Group
    tiles: tuple[Tile, ...]  # empty: collapsed to its summary line

    @property
    def collapsed(self) -> bool:
        return not self.tiles

    @property
    def hidden(self) -> int:
        """Problems of the group not shown as tiles."""
        return self.group.counts.problems - len(self.tiles)

    @property
    def key(self) -> str:
        return self.group.key


@dataclass(frozen=True, slots=True)
class Leftover:
    """Groups that did not get even a summary line."""

    groups: int
    counts: Counts


@dataclass(frozen=True, slots=True)
class IncidentSummary:
    open: int
    unacknowledged: int
    breached: int


@dataclass(frozen=True, slots=True)
class Screen:
    groups: tuple[GroupSlot, ...]
    leftover: Leftover | None
    incidents: tuple[IncidentTile, ...] | None
    more_incidents: tuple[IncidentTile, ...]
    incident_summary: IncidentSummary


def _breached(tile: IncidentTile) -> bool:
    return tile.sla is not None and tile.sla.state == "breached"


def fit_groups(
    groups: tuple[Group, ...], budget: ScreenBudget, *, detail_from: int = 0
) -> tuple[tuple[GroupSlot, ...], Leftover | None]:
    """Summaries for all groups that fit, tiles where space is left (see module docstring).

    ``detail_from`` > 0 (a later page of a rotation): the most severe group keeps one row of
    its worst tiles and the space goes to the groups from index ``detail_from`` on."""
    units = budget.problem_units
    reserve = 0
    if groups:  # the worst group's first tiles are never traded for other groups' summaries
        worst_rows = ceil(len(groups[0].tiles) / budget.tile_columns)
        reserve = min(worst_rows, budget.first_group_rows) * budget.tile_units
    room = units - reserve
    if len(groups) > room:
        shown, rest = groups[: room - 1], groups[room - 1 :]
        total = Counts()
        for g in rest:
            total = total + g.counts
        leftover: Leftover | None = Leftover(len(rest), total)
    else:
        shown, leftover = groups, None
    spare = units - len(shown) - (1 if leftover else 0)
    tiles: dict[int, tuple[Tile, ...]] = {}
    order = list(range(len(shown)))
    if detail_from > 0 and shown:
        order = [0, *range(detail_from, len(shown))]
    for index in order:
        group = shown[index]
        rows_needed = ceil(len(group.tiles) / budget.tile_columns)
        if detail_from > 0 and index == 0:
            rows_needed = min(rows_needed, 1)
        rows = min(rows_needed, spare // budget.tile_units)
        if rows <= 0:
            break
        tiles[index] = group.tiles[: rows * budget.tile_columns]
        spare -= rows * budget.tile_units
        if rows < rows_needed:
            break  # cut: nothing less severe is detailed
    return tuple(GroupSlot(g, tiles.get(i, ())) for i, g in enumerate(shown)), leftover


def _incidents(view: WallView, budget: ScreenBudget) -> tuple[Any, ...]:
    incidents = view.incidents
    shown = None if incidents is None else incidents[: budget.incident_rows]
    more = () if incidents is None else incidents[budget.incident_rows :]
    summary = IncidentSummary(
        open=len(incidents or ()),
        unacknowledged=sum(1 for t in incidents or () if t.incident.status == "triggered"),
        breached=sum(1 for t in incidents or () if _breached(t)),
    )
    return shown, tuple(more), summary


def fit_screen(view: WallView, budget: ScreenBudget | None = None) -> Screen:
    """What one screen shows of ``view`` (the first page of a rotation)."""
    return fit_pages(view, budget, max_pages=1)[0]


def fit_pages(
    view: WallView, budget: ScreenBudget | None = None, *, max_pages: int = 8
) -> list[Screen]:
    """The screens of a rotation: the fitted screen, then pages detailing the groups it could
    only summarise (at most ``max_pages``). Incidents are the same on every page."""
    budget = budget or ScreenBudget()
    shown, more, summary = _incidents(view, budget)
    pages: list[Screen] = []
    detail_from = 0
    while len(pages) < max_pages:
        groups, leftover = fit_groups(view.groups, budget, detail_from=detail_from)
        pages.append(Screen(groups, leftover, shown, more, summary))
        detailed = [i for i, slot in enumerate(groups) if i > 0 and not slot.collapsed]
        after = max(detailed, default=max(detail_from - 1, 0))
        nxt = next((i for i in range(after + 1, len(groups)) if groups[i].collapsed), None)
        if nxt is None or nxt <= detail_from:
            break
        detail_from = nxt
    return pages


def more_breached(tiles: tuple[IncidentTile, ...]) -> int:
    return sum(1 for t in tiles if _breached(t))
