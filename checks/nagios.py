"""The Nagios plugin interface: threshold ranges, performance data, plugin output.

Ranges follow the Monitoring Plugins Development Guidelines::

    10      alert if value < 0 or > 10          (inside 0..10 is fine)
    10:     alert if value < 10                 (10..+inf is fine)
    ~:10    alert if value > 10                 (-inf..10 is fine)
    10:20   alert if value < 10 or > 20
    @10:20  alert if 10 <= value <= 20          (inverted: inside is bad)

Performance data: ``'label'=value[UOM];[warn];[crit];[min];[max]`` separated by spaces; labels
with spaces are single-quoted, a quote inside a label is written twice.

Plugin output: the first line is ``text | perfdata``; following lines are long text until a line
containing ``|``, after which everything is more perfdata.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from checks.result import PerfDatum, Status


class RangeError(ValueError):
    """A threshold range is not in the ``[@]start:end`` syntax."""


class PerfdataError(ValueError):
    """A perfdata item cannot be parsed."""


@dataclass(frozen=True, slots=True)
class NagiosRange:
    """A parsed threshold range; ``alerts(value)`` says whether the value breaches it."""

    start: float
    end: float
    inside: bool  # True for "@start:end": alert when the value is inside the range
    text: str

    def alerts(self, value: float) -> bool:
        """True when ``value`` should raise this threshold's alert (NaN always alerts)."""
        if math.isnan(value):
            return True
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def __str__(self) -> str:
        return self.text


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"(@)?(?:(~|{_NUMBER})?:)?({_NUMBER})?")


def parse_range(text: str) -> NagiosRange:
    """Parse ``[@]start:end``; raise ``RangeError`` saying what is wrong."""
    if not isinstance(text, str):
        raise RangeError(f"a threshold range must be text such as '10', '10:', '~:10', "
                         f"'10:20' or '@10:20', got {text!r}")
    cleaned = text.strip()
    match = _RANGE.fullmatch(cleaned)
    if not cleaned or match is None or cleaned in ("@", "~"):
        raise RangeError(f"{text!r} is not a threshold range; use 10, 10:, ~:10, 10:20 or @10:20")
    inverted, start_text, end_text = match.groups()
    has_colon = ":" in cleaned
    if start_text is None:
        start = 0.0
    elif start_text == "~":
        start = -math.inf
    else:
        start = float(start_text)
    if end_text is None:
        if not has_colon:
            raise RangeError(f"{text!r} is not a threshold range; use 10, 10:, ~:10, 10:20 "
                             f"or @10:20")
        end = math.inf
    else:
        end = float(end_text)
    if start > end:
        raise RangeError(f"threshold range {text!r} starts above its end ({start:g} > {end:g})")
    return NagiosRange(start=start, end=end, inside=inverted is not None, text=cleaned)


def range_alerts(threshold: NagiosRange | str, value: float) -> bool:
    """True when ``value`` breaches ``threshold`` (a parsed range or its text)."""
    rng = threshold if isinstance(threshold, NagiosRange) else parse_range(threshold)
    return rng.alerts(value)


def judge(
    value: float, warn: NagiosRange | str | None, crit: NagiosRange | str | None
) -> Status:
    """CRITICAL if the critical range alerts, else WARNING if the warning range does, else OK."""
    if crit is not None and range_alerts(crit, value):
        return Status.CRITICAL
    if warn is not None and range_alerts(warn, value):
        return Status.WARNING
    return Status.OK


# ---------------------------------------------------------------------------------------------
# Performance data

_VALUE = re.compile(rf"({_NUMBER})([^;\d\s][^;\s]*)?$")


def parse_perfdata(text: str) -> tuple[tuple[PerfDatum, ...], tuple[str, ...]]:
    """Parse a perfdata string leniently.

    Returns the parsed items and the raw items that could not be parsed (so a caller can say
    "ignored bad perfdata" instead of failing the whole check, as Nagios does).
    """
    items: list[PerfDatum] = []
    bad: list[str] = []
    for raw in _split_perfdata(text):
        try:
            items.append(parse_perfdatum(raw))
        except PerfdataError:
            bad.append(raw)
    return tuple(items), tuple(bad)


def _split_perfdata(text: str) -> list[str]:
    """Split on whitespace, keeping quoted labels (which may contain spaces) together."""
    raws: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        if text[i] == "'":
            i += 1
            while i < n:
                if text[i] == "'" and i + 1 < n and text[i + 1] == "'":
                    i += 2
                elif text[i] == "'":
                    i += 1
                    break
                else:
                    i += 1
        while i < n and not text[i].isspace():
            i += 1
        raws.append(text[start:i])
    return raws


#: UOM -> (base unit, factor), as Icinga 2 reads them: times to seconds, sizes to bytes (KB is
#: 1000 B, KiB 1024 B), "%" a percentage and "c" a continuous counter.
BASE_UNITS: dict[str, tuple[str, float]] = {
    "s": ("seconds", 1.0), "ms": ("seconds", 1e-3), "us": ("seconds", 1e-6),
    "ns": ("seconds", 1e-9), "m": ("seconds", 60.0), "h": ("seconds", 3600.0),
    "d": ("seconds", 86400.0),
    "B": ("bytes", 1.0), "KB": ("bytes", 1e3), "kB": ("bytes", 1e3), "MB": ("bytes", 1e6),
    "GB": ("bytes", 1e9), "TB": ("bytes", 1e12), "PB": ("bytes", 1e15),
    "KiB": ("bytes", 1024.0), "MiB": ("bytes", 1024.0 ** 2), "GiB": ("bytes", 1024.0 ** 3),
    "TiB": ("bytes", 1024.0 ** 4),
    "%": ("percent", 1.0), "c": ("counter", 1.0),
}


def base_value(datum: PerfDatum) -> tuple[float, str]:
    """The datum's value in its base unit and that unit's name ("seconds", "bytes",
    "percent", "counter"; "" when the UOM says nothing we know: the value as given)."""
    unit, factor = BASE_UNITS.get(datum.uom, ("", 1.0))
    return datum.value * factor, unit


def parse_perfdatum(raw: str) -> PerfDatum:
    """Parse one ``'label'=value[UOM];warn;crit;min;max`` item; raise ``PerfdataError``."""
    if raw.startswith("'"):
        end = raw.find("'=", 1)
        while end != -1 and _escaped_quote(raw, end):
            end = raw.find("'=", end + 1)
        if end == -1:
            raise PerfdataError(f"perfdata {raw!r}: quoted label is not closed")
        label = raw[1:end].replace("''", "'")
        rest = raw[end + 2:]
    else:
        label, sep, rest = raw.partition("=")
        if not sep:
            raise PerfdataError(f"perfdata {raw!r}: expected label=value")
    if not label:
        raise PerfdataError(f"perfdata {raw!r}: empty label")
    fields = rest.split(";")
    match = _VALUE.match(fields[0])
    if fields[0] == "U":  # the guidelines' "value could not be determined"
        match = None
        unknown = True
    else:
        unknown = False
    if match is None and not unknown:
        raise PerfdataError(f"perfdata {raw!r}: value {fields[0]!r} is not a number")
    if len(fields) > 5:
        raise PerfdataError(f"perfdata {raw!r}: more than 5 ';'-separated fields")
    fields += [""] * (5 - len(fields))
    warn, crit = fields[1] or None, fields[2] or None
    for threshold in (warn, crit):
        if threshold is not None:
            try:
                parse_range(threshold)
            except RangeError as exc:
                raise PerfdataError(f"perfdata {raw!r}: {exc}") from None
    try:
        minimum = float(fields[3]) if fields[3] else None
        maximum = float(fields[4]) if fields[4] else None
    except ValueError:
        raise PerfdataError(f"perfdata {raw!r}: min/max must be numbers") from None
    return PerfDatum(
        label=label, value=math.nan if match is None else float(match.group(1)),
        uom="" if match is None else match.group(2) or "",
        warn=warn, crit=crit, min=minimum, max=maximum,
    )


def _escaped_quote(raw: str, index: int) -> bool:
    """True when the quote at ``index`` is the second half of a doubled '' inside a label."""
    count = 0
    j = index
    while j > 0 and raw[j] == "'":
        count += 1
        j -= 1
    return count % 2 == 0


# ---------------------------------------------------------------------------------------------
# Plugin output


@dataclass(frozen=True, slots=True)
class PluginOutput:
    """A plugin's stdout split into its parts."""

    text: str  # first line, before '|': the status message
    long_text: str  # following lines of text, if any
    perfdata: tuple[PerfDatum, ...]
    bad_perfdata: tuple[str, ...]


def parse_plugin_output(output: str) -> PluginOutput:
    """Split plugin output into message, long text and perfdata (guidelines, "Plugin Output")."""
    lines = output.replace("\r\n", "\n").rstrip("\n").split("\n")
    first, _, perf = lines[0].partition("|")
    perf_parts = [perf]
    long_lines: list[str] = []
    in_perf = False
    for line in lines[1:]:
        if in_perf:
            perf_parts.append(line)
            continue
        text, sep, more = line.partition("|")
        if sep:
            long_lines.append(text)
            perf_parts.append(more)
            in_perf = True
        else:
            long_lines.append(line)
    perfdata, bad = parse_perfdata(" ".join(perf_parts))
    return PluginOutput(
        text=first.strip(),
        long_text="\n".join(long_lines).strip("\n"),
        perfdata=perfdata,
        bad_perfdata=bad,
    )
