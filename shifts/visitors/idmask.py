"""Masking of identity-document numbers.

The visitor log never keeps a full passport or ID-card number: it keeps the last few characters
(enough for the desk to say "the document ending in 4567 is the one on file") and replaces the
rest with a mask character, e.g. ``mask("AB1234567") == "•••••4567"``.

Contract:
- Spaces and hyphens are dropped and letters upper-cased before masking, so "ab 123-4567" and
  "AB1234567" give the same masked text and compare equal at the desk.
- At least half of the characters are always hidden: with the default of 4 visible characters a
  6-character number shows only its last 3. A visible count of 0 hides everything.
- The masked text has the same length as the normalised number (the length is not secret enough
  to be worth a fixed-width mask, and it helps the desk tell a passport from an ID card).
"""

from __future__ import annotations

import re

MASK_CHAR = "•"
DEFAULT_VISIBLE = 4

_SEPARATORS = re.compile(r"[\s\-‐‑–]+")


class IdMaskError(ValueError):
    """An ID number cannot be masked, or a stored value is not a masked number."""


def normalise_id_number(raw: str) -> str:
    """Upper-case ``raw`` and drop spaces and hyphens; raise IdMaskError when nothing is left."""
    if not isinstance(raw, str):
        raise IdMaskError(f"ID number must be text, got {type(raw).__name__}")
    normalised = _SEPARATORS.sub("", raw).upper()
    if not normalised:
        raise IdMaskError("ID number must not be empty")
    if MASK_CHAR in normalised:
        raise IdMaskError(
            f"ID number {raw!r} already contains the mask character {MASK_CHAR!r}; "
            "mask the number as read from the document"
        )
    return normalised


def visible_count(length: int, visible: int = DEFAULT_VISIBLE) -> int:
    """How many trailing characters of a ``length``-character number stay readable."""
    if visible < 0:
        raise IdMaskError(f"visible characters must be 0 or more, got {visible}")
    return min(visible, length // 2)


def mask(raw: str, visible: int = DEFAULT_VISIBLE) -> str:
    """Return ``raw`` with all but its last ``visible`` characters replaced by ``MASK_CHAR``.

    >>> mask("AB1234567")
    '•••••4567'
    >>> mask("ab 123-4567", visible=2)
    '•••••••67'
    """
    number = normalise_id_number(raw)
    shown = visible_count(len(number), visible)
    hidden = len(number) - shown
    return MASK_CHAR * hidden + number[hidden:]


def is_masked(text: str) -> bool:
    """True when ``text`` looks like the output of ``mask``.

    That is: it starts with at least one mask character, all mask characters come first, and at
    least half of the characters are masked. Used by the model to refuse a full number.
    """
    if not isinstance(text, str) or not text.startswith(MASK_CHAR):
        return False
    tail = text.lstrip(MASK_CHAR)
    if MASK_CHAR in tail:
        return False
    hidden = len(text) - len(tail)
    return hidden >= len(tail)


def require_masked(field: str, text: str) -> str:
    """Return ``text`` when it is masked; otherwise raise IdMaskError naming ``field``.

    The error message never repeats the offending value: it may be a full ID number.
    """
    if not is_masked(text):
        raise IdMaskError(
            f"{field} must be a masked ID number such as '{MASK_CHAR * 5}4567' "
            f"(use idmask.mask() on the number read from the document); "
            "a full or malformed number is never stored"
        )
    return text


def matches_masked(masked: str, presented: str) -> bool:
    """True when the number read from a presented document is consistent with ``masked``.

    Same normalised length and the same visible trailing characters. This is what the desk can
    verify without the full number on file; it is a hint, not proof of identity.
    """
    require_masked("masked", masked)
    try:
        number = normalise_id_number(presented)
    except IdMaskError:
        return False
    if len(number) != len(masked):
        return False
    tail = masked.lstrip(MASK_CHAR)
    return not tail or number.endswith(tail)
