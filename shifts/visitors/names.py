"""Tolerant comparison of a person's name on a list with the name on their ID document.

What we chose, and why:
- Case, leading/trailing and repeated whitespace are ignored ("ivan  PETROV" = "Ivan Petrov").
- Cyrillic letters that look like Latin ones (а е о р с у х і ј ѕ and the capitals А В Е К М Н О
  Р С Т Х) are read as the Latin letter, so a name typed with a mixed keyboard layout
  ("Ivаn" with a Cyrillic "а") still matches. This accepts nothing a person comparing the two
  texts by eye would not also accept. It is NOT transliteration: "Иван" does not match "Ivan".
- Diacritics are ignored ("José" = "Jose"), because the machine-readable zone of passports drops
  them and lists are often typed without them.
- Hyphens count as spaces and apostrophes/dots are dropped ("Anne-Marie O'Neil" =
  "Anne Marie ONeil").
- Word order is ignored ("PETROV Ivan" = "Ivan Petrov"): documents often put the surname first.
- Nothing else is forgiven: an extra middle name or patronymic, a typo, or a missing word is a
  mismatch, and the desk must correct the list or the request.
"""

from __future__ import annotations

import re
import unicodedata

# Lower-case after casefold(): the capitals map through their lower-case forms. The lower-case
# letters в к м н т only look Latin as capitals (В К М Н Т), which is how names are written on
# documents, so they are included.
_LOOKALIKES = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "ԛ": "q",
        "ԝ": "w",
    }
)
_SPACE_LIKE = re.compile(r"[\s\-‐‑–—_]+")
_DROPPED = re.compile(r"['’ʼ`.]")


def name_key(name: str) -> tuple[str, ...]:
    """The comparison key of a name: sorted, normalised words (see module docstring)."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().translate(_LOOKALIKES)
    text = _DROPPED.sub("", text)
    words = _SPACE_LIKE.sub(" ", text).split()
    return tuple(sorted(words))


def names_match(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` name the same person under the tolerant rules above.

    Two blank names never match: a missing name is not a match.
    """
    key_a, key_b = name_key(a), name_key(b)
    return bool(key_a) and key_a == key_b
