"""What applying a configuration file would change (``checks apply``, ``catalog apply``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Plan:
    """The names added, changed and removed by an apply, in that order; ``lines()`` prints
    them as ``+ name`` / ``~ name`` / ``- name``."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def lines(self) -> list[str]:
        return ([f"+ {x}" for x in self.added] + [f"~ {x}" for x in self.changed]
                + [f"- {x}" for x in self.removed])
