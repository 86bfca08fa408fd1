"""A small condition language for judging probe responses, in the spirit of Gatus.

Examples::

    status == 200                     status in (200, 204)        status != 503
    response_time < 300ms             cert_expiry > 14d
    body contains "OK"                body not contains "error"
    json $.state == "up"              json $.items[0].count >= 3  json $.tags contains "prod"
    header Content-Type contains "json"
    body ~= "version: [0-9]+\\.[0-9]+"     (a regular expression, RE2 syntax: linear time)

A condition is parsed once (``parse_condition``; errors carry the column and the reason) and then
evaluated many times against a context mapping (``Condition.failure(context)``). A failing
condition explains itself with the value it saw: ``status (503) == 200``.

The context is a plain mapping filled by the probe:
``status`` (int), ``response_time`` and ``cert_expiry`` (seconds), ``body`` (str),
``json`` (the parsed body, or ``NOT_JSON``), ``headers`` (a case-insensitive mapping).
A subject missing from the context fails the condition with "(unavailable)".
"""

from __future__ import annotations

import functools
import json as jsonlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from checks.specs import format_duration, parse_duration

NOT_JSON: Any = type("NotJson", (), {"__repr__": lambda self: "NOT_JSON"})()
"""Context value for ``json`` when the body could not be parsed as JSON."""

# subject name -> kind of values it holds
SUBJECTS = {
    "status": "number",
    "response_time": "duration",
    "cert_expiry": "duration",
    "body": "text",
    "json": "json",
    "header": "text",
}
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_ALLOWED_OPS = {
    "number": (*COMPARISONS, "in", "not in"),
    "duration": COMPARISONS,
    "text": ("==", "!=", "contains", "not contains", "in", "not in", "~="),
    "json": (*COMPARISONS, "in", "not in", "contains", "not contains"),
}


class ConditionError(ValueError):
    """A condition cannot be parsed; ``column`` is 1-based, ``reason`` says what is wrong."""

    def __init__(self, text: str, column: int, reason: str) -> None:
        self.text = text
        self.column = column
        self.reason = reason
        super().__init__(f"column {column}: {reason} (in condition {text!r})")


@dataclass(frozen=True, slots=True)
class Literal:
    """An operand: ``kind`` is number, duration (seconds), string, bool or null."""

    kind: str
    value: Any


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed condition. ``text`` is the source, kept for messages and config export."""

    text: str
    subject: str
    argument: Any  # JSON path (tuple of str|int) or header name; None otherwise
    op: str
    operands: tuple[Literal, ...]
    _subject_text: str
    _rest_text: str

    def failure(self, context: Mapping[str, Any]) -> str | None:
        """Return None when the condition holds, else an explanation with the value seen."""
        found, seen = _resolve(self.subject, self.argument, context)
        if not found:
            return f"{self._subject_text} ({seen}) {self._rest_text}"
        passed, note = _apply(self.op, seen, self.operands)
        if passed:
            return None
        shown = _show(self.subject, seen)
        if note:
            shown = f"{shown}, {note}"
        return f"{self._subject_text} ({shown}) {self._rest_text}"

    @property
    def uses_json(self) -> bool:
        return self.subject == "json"


def evaluate_conditions(
    conditions: Iterable[Condition], context: Mapping[str, Any]
) -> list[str]:
    """All conditions must pass; return the explanations of those that failed, in order."""
    failures = []
    for condition in conditions:
        failure = condition.failure(context)
        if failure is not None:
            failures.append(failure)
    return failures


def parse_conditions(texts: Sequence[str]) -> tuple[Condition, ...]:
    return tuple(parse_condition(t) for t in texts)


# ---------------------------------------------------------------------------------------------
# Tokenizer

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<path>\$(?:\[(?:"[^"]*"|'[^']*'|\d+)\]|[^\s()\[])*)
  | (?P<number>-?(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+(?![\w.])|-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op>==|!=|<=|>=|~=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][\w.-]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] in "\"'":
                raise ConditionError(text, pos + 1, "text in quotes is not closed")
            if text[pos].isdigit() or text[pos] == "-":
                raise ConditionError(
                    text, pos + 1, "bad number or duration; write 200, 1.5 or 300ms, 14d"
                )
            if text[pos] == "=":
                raise ConditionError(text, pos + 1, "use '==' to compare")
            raise ConditionError(text, pos + 1, f"unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), match.start(), match.end()))
        pos = match.end()
    return tokens


# ---------------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise ConditionError(self.text, len(self.text) + 1, f"expected {what}, got the end")
        self.i += 1
        return token

    def fail(self, token: _Token, reason: str) -> ConditionError:
        return ConditionError(self.text, token.start + 1, reason)


def parse_condition(text: str) -> Condition:
    """Parse one condition; raise ``ConditionError`` with column and reason when it is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError(str(text), 1, "a condition must be a non-empty text")
    p = _Parser(text)
    names = ", ".join(SUBJECTS)
    first = p.take(f"a subject ({names})")
    if first.kind != "word" or first.text not in SUBJECTS:
        raise p.fail(first, f"unknown subject {first.text!r}; use one of {names}")
    subject = first.text
    kind = SUBJECTS[subject]
    argument: Any = None
    subject_end = first.end
    if subject == "json":
        token = p.take("a JSON path such as $.state")
        if token.kind != "path":
            raise p.fail(token, "expected a JSON path starting with $, e.g. $.state")
        argument = _parse_json_path(text, token)
        subject_end = token.end
    elif subject == "header":
        token = p.take("a header name such as Content-Type")
        if token.kind != "word":
            raise p.fail(token, "expected a header name, e.g. Content-Type")
        argument = token.text
        subject_end = token.end

    op_token = p.take("an operator (==, !=, <, <=, >, >=, in, contains)")
    op = _read_operator(p, op_token)
    if op not in _ALLOWED_OPS[kind]:
        raise p.fail(
            op_token, f"{subject} cannot use {op!r}; use one of {', '.join(_ALLOWED_OPS[kind])}"
        )

    operands = _read_tuple(p) if op in ("in", "not in") else [_read_literal(p)]
    if op == "~=":
        # A pattern keeps its backslashes as written ("v[0-9]+\.[0-9]+"): RE2 reads \" as ".
        operands = [(Literal("string", token.text[1:-1]) if literal.kind == "string"
                     else literal, token) for literal, token in operands]
    extra = p.peek()
    if extra is not None:
        raise p.fail(extra, f"unexpected {extra.text!r} after the condition")
    for operand, token in operands:
        _check_operand(p, subject, kind, op, operand, token)
    return Condition(
        text=text,
        subject=subject,
        argument=argument,
        op=op,
        operands=tuple(o for o, _ in operands),
        _subject_text=text[first.start:subject_end],
        _rest_text=text[op_token.start:].strip(),
    )


def _read_operator(p: _Parser, token: _Token) -> str:
    if token.kind == "op":
        return token.text
    if token.kind == "word" and token.text in ("in", "contains"):
        return token.text
    if token.kind == "word" and token.text == "not":
        nxt = p.take("'in' or 'contains' after 'not'")
        if nxt.kind == "word" and nxt.text in ("in", "contains"):
            return f"not {nxt.text}"
        raise p.fail(nxt, "expected 'in' or 'contains' after 'not'")
    raise p.fail(token, f"expected an operator (==, !=, <, <=, >, >=, in, contains), "
                        f"got {token.text!r}")


def _read_tuple(p: _Parser) -> list[tuple[Literal, _Token]]:
    opening = p.take("'(' to start a list, e.g. (200, 204)")
    if opening.text != "(":
        raise p.fail(opening, "expected '(' to start a list, e.g. (200, 204)")
    items = [_read_literal(p)]
    while True:
        token = p.take("',' or ')'")
        if token.text == ")":
            return items
        if token.text != ",":
            raise p.fail(token, "expected ',' or ')' in the list")
        items.append(_read_literal(p))


def _read_literal(p: _Parser) -> tuple[Literal, _Token]:
    token = p.take("a value")
    if token.kind == "string":
        return Literal("string", _unquote(token.text)), token
    if token.kind == "number":
        if token.text[-1].isdigit():
            number = float(token.text)
            return Literal("number", int(number) if number.is_integer() else number), token
        try:
            return Literal("duration", parse_duration(token.text.lstrip("-"))), token
        except ValueError:
            raise p.fail(token, f"{token.text!r} is not a duration (ms, s, m, h, d)") from None
    if token.kind == "word" and token.text in ("true", "false"):
        return Literal("bool", token.text == "true"), token
    if token.kind == "word" and token.text == "null":
        return Literal("null", None), token
    if token.kind == "word":
        raise p.fail(token, f"put text in quotes: \"{token.text}\"")
    raise p.fail(token, f"expected a value, got {token.text!r}")


def _unquote(quoted: str) -> str:
    body = quoted[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _check_operand(
    p: _Parser, subject: str, kind: str, op: str, operand: Literal, token: _Token
) -> None:
    if kind == "number" and operand.kind != "number":
        raise p.fail(token, f"{subject} compares numbers, e.g. {subject} == 200")
    if kind == "duration" and operand.kind != "duration":
        hint = "300ms" if subject == "response_time" else "14d"
        raise p.fail(token, f"{subject} compares durations; give a unit, e.g. {hint}")
    if kind == "text" and operand.kind != "string":
        raise p.fail(token, f"{subject} compares text; put the value in quotes")
    if op in ("<", "<=", ">", ">=") and operand.kind not in ("number", "duration"):
        raise p.fail(token, f"{op!r} needs a number")
    if op == "~=":
        if len(operand.value) > MAX_PATTERN_LENGTH:
            raise p.fail(token, f"the regular expression is {len(operand.value)} characters "
                                f"long; at most {MAX_PATTERN_LENGTH} are allowed")
        try:
            compiled_pattern(operand.value)
        except re2.error as exc:
            raise p.fail(token, f"invalid regular expression: {_re2_words(exc)}") from None


MAX_PATTERN_LENGTH = 512
"""Longest ``~=`` pattern accepted; RE2 runs in linear time, this bounds its memory."""

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is the user's, reported as a ConditionError


@functools.lru_cache(maxsize=1024)
def compiled_pattern(pattern: str) -> Any:
    """The RE2 program of ``pattern`` (cached: conditions are evaluated on every run). RE2 has
    no backtracking, so no pattern can hang a probe on a hostile body ("(a+)+$")."""
    return re2.compile(pattern, options=_RE2_OPTIONS)


def _re2_words(exc: BaseException) -> str:
    words = exc.args[0] if exc.args else str(exc)
    return words.decode("utf-8", "replace") if isinstance(words, bytes) else str(words)


_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[\"([^\"]*)\"\]|\['([^']*)'\]")


def _parse_json_path(text: str, token: _Token) -> tuple[str | int, ...]:
    """``$.a.b[0]['key with space']`` -> ("a", "b", 0, "key with space")."""
    path = token.text
    parts: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _PATH_PART.match(path, pos)
        if match is None:
            raise ConditionError(
                text, token.start + pos + 1,
                "bad JSON path; use dotted keys and [index], e.g. $.items[0].name",
            )
        key, index, dq, sq = match.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(key if key is not None else (dq if dq is not None else sq))
        pos = match.end()
    return tuple(parts)


# ---------------------------------------------------------------------------------------------
# Evaluation


def _resolve(subject: str, argument: Any, context: Mapping[str, Any]) -> tuple[bool, Any]:
    """Return (True, value) or (False, reason shown in the explanation)."""
    if subject == "header":
        headers = context.get("headers")
        if headers is None:
            return False, "unavailable"
        value = _header_get(headers, argument)
        return (True, value) if value is not None else (False, "missing")
    if subject not in context or context[subject] is None:
        return False, "unavailable"
    value = context[subject]
    if subject == "json":
        if value is NOT_JSON:
            return False, "body is not JSON"
        for part in argument:
            list_item = isinstance(part, int) and isinstance(value, list) and part < len(value)
            dict_item = isinstance(part, str) and isinstance(value, dict) and part in value
            if not (list_item or dict_item):
                return False, "missing"
            value = value[part]
    return True, value


def _header_get(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    if value is None and isinstance(headers, Mapping):
        lowered = name.lower()
        for key, candidate in headers.items():
            if str(key).lower() == lowered:
                return str(candidate)
    return None if value is None else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(seen: Any, operand: Literal) -> bool:
    if operand.kind in ("number", "duration"):
        return _is_number(seen) and float(seen) == float(operand.value)
    if operand.kind == "bool":
        return isinstance(seen, bool) and seen is operand.value
    if operand.kind == "null":
        return seen is None
    return isinstance(seen, str) and seen == operand.value


def _apply(op: str, seen: Any, operands: tuple[Literal, ...]) -> tuple[bool, str]:
    """Return (passed, note); the note explains a type mismatch when there is one."""
    if op == "==":
        return _equal(seen, operands[0]), ""
    if op == "!=":
        return not _equal(seen, operands[0]), ""
    if op == "in":
        return any(_equal(seen, o) for o in operands), ""
    if op == "not in":
        return not any(_equal(seen, o) for o in operands), ""
    if op == "~=":
        if not isinstance(seen, str):
            return False, "not text"
        return compiled_pattern(operands[0].value).search(seen) is not None, ""
    if op in ("contains", "not contains"):
        needle = operands[0]
        if isinstance(seen, str):
            found = needle.kind == "string" and needle.value in seen
        elif isinstance(seen, list):
            found = any(_equal(item, needle) for item in seen)
        else:
            return False, "not text or a list"
        return (found if op == "contains" else not found), ""
    if not _is_number(seen) or math.isnan(float(seen)):
        return False, "not a number"
    a, b = float(seen), float(operands[0].value)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op], ""


def _show(subject: str, seen: Any) -> str:
    if SUBJECTS[subject] == "duration":
        return format_duration(float(seen))
    if subject == "status":
        return str(seen)
    if subject == "json":
        shown = jsonlib.dumps(seen, ensure_ascii=False)
    else:
        shown = jsonlib.dumps(str(seen), ensure_ascii=False)
    return shown if len(shown) <= 60 else shown[:59] + "…"
