"""Areas of the building: hall ⊃ cage ⊃ rack, written as a path.

An area is written the way the desk says it, outer to inner, separated by "/":
``"Hall A"``, ``"Hall A / Cage 3"``, ``"Hall A / Cage 3 / Rack 12"``. A scope covers an area
when the scope's path is a prefix of the area's path: "Hall A" covers every cage and rack in
Hall A; "Hall A / Cage 3" covers its racks but not "Hall A / Cage 4" nor "Hall A" itself.

Comparison ignores case and runs of whitespace ("hall a /cage 3" is "Hall A / Cage 3"); the
text as entered is kept for display.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SEPARATOR = "/"
MAX_DEPTH = 3  # hall, cage, rack

_SPACES = re.compile(r"\s+")


class AreaError(ValueError):
    """An area path cannot be understood."""


def _clean(part: str) -> str:
    return _SPACES.sub(" ", part).strip()


@dataclass(frozen=True, slots=True, eq=False)
class Area:
    """One place in the building, outer to inner (hall, cage, rack)."""

    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise AreaError("area must name at least a hall, got an empty path")
        if len(self.parts) > MAX_DEPTH:
            raise AreaError(
                f"area {self.text!r} has {len(self.parts)} levels; at most {MAX_DEPTH} "
                "are allowed (hall / cage / rack)"
            )
        if any(not _clean(p) for p in self.parts):
            raise AreaError(f"area {SEPARATOR.join(self.parts)!r} has an empty level")

    @classmethod
    def parse(cls, text: str | Area) -> Area:
        """Parse ``"Hall A / Cage 3 / Rack 12"``; an Area is returned unchanged."""
        if isinstance(text, Area):
            return text
        if not isinstance(text, str):
            raise AreaError(f"area must be text like 'Hall A / Cage 3', got {type(text).__name__}")
        if not text.strip():
            raise AreaError("area must name at least a hall, got an empty text")
        return cls(tuple(_clean(p) for p in text.split(SEPARATOR)))

    @property
    def key(self) -> tuple[str, ...]:
        """Comparison key: each level case-folded with whitespace collapsed."""
        return tuple(_clean(p).casefold() for p in self.parts)

    @property
    def text(self) -> str:
        return f" {SEPARATOR} ".join(_clean(p) for p in self.parts)

    def covers(self, other: Area) -> bool:
        """True when ``other`` is this area or lies inside it."""
        mine, theirs = self.key, other.key
        return len(mine) <= len(theirs) and theirs[: len(mine)] == mine

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Area) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.text


def parse_areas(values: Iterable[str | Area] | str | Area) -> tuple[Area, ...]:
    """Parse a list of areas (a single string is one area, not a list of characters)."""
    if isinstance(values, str | Area):
        values = (values,)
    return tuple(Area.parse(v) for v in values)


def scope_covers(scope: Iterable[Area], area: Area) -> bool:
    """True when some area of ``scope`` covers ``area``."""
    return any(s.covers(area) for s in scope)


def uncovered(scope: Iterable[Area], wanted: Iterable[Area]) -> tuple[Area, ...]:
    """The areas of ``wanted`` that no area of ``scope`` covers (empty tuple: all covered)."""
    scope = tuple(scope)
    return tuple(a for a in wanted if not scope_covers(scope, a))
