"""Alertmanager-style label matchers and silences.

Syntax (as in ``amtool`` and Alertmanager's UI), a comma-separated list, optionally in braces::

    service="mail", severity=~"critical|warning"
    {alertname!="Watchdog", instance!~"test-.*"}

Operators: ``=`` equal, ``!=`` not equal, ``=~`` regex matches, ``!~`` regex does not match.
Regexes are fully anchored (``=~"crit"`` does not match ``"critical"``), as in Alertmanager.
Values are double-quoted strings with ``\\"``, ``\\\\`` and ``\\n`` escapes; a simple unquoted
value (no spaces, commas, braces or quotes) is accepted too. A label the alert does not have
counts as the empty string, so ``team=""`` matches alerts without a ``team`` label.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn

from dutydesk.core.timeutil import TimestampError, ensure_utc
from dutydesk.incidents.alerts.model import Alert

_LABEL_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNQUOTED_VALUE_RE = re.compile(r'[^\s,{}"=!~][^\s,{}"]*')
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}


class MatcherError(ValueError):
    """A matcher string or value is invalid; the message quotes the text and the position."""


class SilenceError(ValueError):
    """A silence is invalid (no matchers, end before start, matches everything, ...)."""


class MatchType(enum.StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    """One ``name <op> value`` condition on a label set."""

    name: str
    op: MatchType
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _LABEL_NAME_RE.fullmatch(self.name):
            raise MatcherError(
                f"invalid label name {self.name!r}: use letters, digits and underscores, "
                "not starting with a digit"
            )
        try:
            op = MatchType(self.op)
        except ValueError:
            raise MatcherError(
                f"invalid operator {self.op!r} for label {self.name!r}: use =, !=, =~ or !~"
            ) from None
        object.__setattr__(self, "op", op)
        if not isinstance(self.value, str):
            raise MatcherError(f"value for label {self.name!r} must be a string")
        if op in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                re.compile(self.value)  # compiled alone first so error positions match the text
                # Anchor the whole expression: "a|b" must mean "^(?:a|b)$", not "^a|b$".
                compiled = re.compile(f"^(?:{self.value})$", re.DOTALL)
            except re.error as exc:
                raise MatcherError(
                    f"invalid regular expression {self.value!r} for label {self.name!r}: {exc}"
                ) from None
            object.__setattr__(self, "_regex", compiled)

    def matches_value(self, value: str) -> bool:
        if self.op is MatchType.EQUAL:
            return value == self.value
        if self.op is MatchType.NOT_EQUAL:
            return value != self.value
        assert self._regex is not None
        found = self._regex.match(value) is not None
        return found if self.op is MatchType.REGEX else not found

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True if the label set satisfies this matcher (a missing label counts as "")."""
        return self.matches_value(labels.get(self.name, ""))

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op.value}"{escaped}"'


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """Parse ``'service="mail", severity=~"critical|warning"'`` into matchers.

    Braces around the list and a trailing comma are allowed. An empty list (``""`` or ``"{}"``)
    returns ``()``; whether that is acceptable is the caller's decision (a silence refuses it).
    Raises ``MatcherError`` naming the position and what was expected.
    """
    if not isinstance(text, str):
        raise MatcherError(f"matchers must be a string, got {type(text).__name__}")
    parser = _Parser(text)
    return parser.parse()


def format_matchers(matchers: Sequence[Matcher]) -> str:
    """The canonical text of a matcher list; ``parse_matchers`` reads it back unchanged."""
    return ", ".join(str(matcher) for matcher in matchers)


class _Parser:
    """A small hand-written scanner: clearer errors than one big regular expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> tuple[Matcher, ...]:
        self._skip_spaces()
        braced = self._peek() == "{"
        if braced:
            self.pos += 1
        matchers: list[Matcher] = []
        while True:
            self._skip_spaces()
            if braced and self._peek() == "}":
                self.pos += 1
                break
            if self._at_end():
                if braced:
                    self._fail("a closing '}'")
                break
            matchers.append(self._matcher(len(matchers) + 1))
            self._skip_spaces()
            if self._peek() == ",":
                self.pos += 1
                continue
            if braced and self._peek() == "}":
                self.pos += 1
                break
            if self._peek() == "}":
                self._fail("the end of the matcher list (there is no opening '{')")
            if not self._at_end():
                self._fail("',' between matchers")
            if braced:
                self._fail("a closing '}'")
            break
        self._skip_spaces()
        if not self._at_end():
            self._fail("the end of the matcher list")
        return tuple(matchers)

    def _matcher(self, number: int) -> Matcher:
        start = self.pos
        name_match = _LABEL_NAME_RE.match(self.text, self.pos)
        if name_match is None:
            self._fail(f"a label name to start matcher {number}")
        name = name_match.group()
        self.pos = name_match.end()
        self._skip_spaces()
        op = None
        for candidate in ("=~", "!~", "!=", "="):
            if self.text.startswith(candidate, self.pos):
                op = MatchType(candidate)
                self.pos += len(candidate)
                break
        if op is None:
            self._fail(f"an operator (=, !=, =~ or !~) after label {name!r}")
        self._skip_spaces()
        value = self._value(name)
        try:
            return Matcher(name, op, value)
        except MatcherError as exc:
            snippet = self.text[start : self.pos]
            raise MatcherError(f"matcher {number} ({snippet}): {exc}") from None

    def _value(self, name: str) -> str:
        if self._peek() != '"':
            unquoted = _UNQUOTED_VALUE_RE.match(self.text, self.pos)
            if unquoted is None:
                self._fail(f"a value for label {name!r} (a double-quoted string)")
            self.pos = unquoted.end()
            return unquoted.group()
        quote_at = self.pos
        self.pos += 1
        chars: list[str] = []
        while True:
            if self._at_end():
                raise MatcherError(
                    f"unterminated quoted value for label {name!r} starting at position "
                    f"{quote_at + 1} in {self.text!r}"
                )
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(chars)
            if char == "\\":
                escaped = self.text[self.pos + 1 : self.pos + 2]
                if escaped not in _ESCAPES:
                    raise MatcherError(
                        f"invalid escape '\\{escaped}' in the value for label {name!r} at "
                        f'position {self.pos + 1} in {self.text!r}: use \\", \\\\ or \\n'
                    )
                chars.append(_ESCAPES[escaped])
                self.pos += 2
                continue
            chars.append(char)
            self.pos += 1

    def _peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def _at_end(self) -> bool:
        return self.pos >= len(self.text)

    def _skip_spaces(self) -> None:
        while not self._at_end() and self.text[self.pos].isspace():
            self.pos += 1

    def _fail(self, expected: str) -> NoReturn:
        found = repr(self.text[self.pos]) if not self._at_end() else "the end"
        raise MatcherError(
            f"expected {expected} at position {self.pos + 1} in {self.text!r}, found {found}"
        )


class SilenceState(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Silence:
    """Mute alerts whose labels match *all* matchers during ``[starts_at, ends_at)``.

    As in Alertmanager: ``created_by`` and ``comment`` are required (a silence without a reason
    is a mystery at 3 a.m.), and at least one matcher must *not* match the empty label set,
    otherwise the silence would mute every alert including ones that do not exist yet.
    """

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def __post_init__(self) -> None:
        label = f"silence {self.id!r}"
        object.__setattr__(self, "matchers", tuple(self.matchers))
        if not self.matchers:
            raise SilenceError(f"{label} needs at least one matcher")
        if all(matcher.matches({}) for matcher in self.matchers):
            raise SilenceError(
                f"{label} would match every alert ({format_matchers(self.matchers)}): at least "
                'one matcher must not match an empty value, e.g. service="mail"'
            )
        try:
            object.__setattr__(self, "starts_at", ensure_utc(self.starts_at, f"{label}: starts_at"))
            object.__setattr__(self, "ends_at", ensure_utc(self.ends_at, f"{label}: ends_at"))
        except TimestampError as exc:
            raise SilenceError(str(exc)) from None
        if self.ends_at <= self.starts_at:
            raise SilenceError(
                f"{label}: ends_at ({self.ends_at.isoformat()}) must be after starts_at "
                f"({self.starts_at.isoformat()})"
            )
        if not isinstance(self.created_by, str) or not self.created_by.strip():
            raise SilenceError(f"{label}: created_by must name who created it")
        if not isinstance(self.comment, str) or not self.comment.strip():
            raise SilenceError(f"{label}: comment must say why (it must not be blank)")

    @classmethod
    def from_text(
        cls,
        id: str,
        matchers: str,
        *,
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> Silence:
        """Build a silence from a matcher string such as ``'service="mail"'``."""
        return cls(id, parse_matchers(matchers), starts_at, ends_at, created_by, comment)

    def state(self, now: datetime) -> SilenceState:
        now = ensure_utc(now, "now")
        if now < self.starts_at:
            return SilenceState.PENDING
        if now < self.ends_at:
            return SilenceState.ACTIVE
        return SilenceState.EXPIRED

    def is_active(self, now: datetime) -> bool:
        """True from ``starts_at`` (inclusive) until ``ends_at`` (exclusive)."""
        return self.state(now) is SilenceState.ACTIVE

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True if every matcher matches ``labels`` (regardless of time)."""
        return all(matcher.matches(labels) for matcher in self.matchers)


@dataclass(frozen=True, slots=True)
class SilenceMuter:
    """Mutes an alert matched by an active silence; reason ``"silence:<id>"``.

    When several silences match, the first in the given order is reported.
    """

    silences: tuple[Silence, ...]

    def mutes(self, alert: Alert, now: datetime) -> str | None:
        for silence in self.silences:
            if silence.is_active(now) and silence.matches(alert.labels):
                return f"silence:{silence.id}"
        return None
