"""A small iCalendar writer for the phone feed's VEVENTs (issue 14: a feed at a small multiple
of the fetch).

icalendar builds an object per property, per parameter and per content line; for a feed of
thousands of entries that is most of the time. `TextComponent` takes the same
`add(name, value)` / `add_component(...)` calls that `calendars.ical` makes on an icalendar
`Event` or `Alarm`, for the few value types those calls use, and keeps each property as its
finished content line. The text is the one icalendar writes for the same calls (RFC 5545):

- TEXT (3.3.11): backslash, semicolon and comma escaped, a line break written as ``\\n``, in
  icalendar's order (which also reads a literal ``\\N`` as a line break);
- DATE (3.3.4) with ``VALUE=DATE``; DATE-TIME (3.3.5) in UTC with "Z", else local with the
  zone's TZID parameter (3.2.19); DTSTAMP, CREATED and LAST-MODIFIED always in UTC (3.8.7);
- INTEGER, DURATION (icalendar's `vDuration`), RECUR (icalendar's `vRecur`, written by it);
- properties in icalendar's order (the component's canonical order, then by name), then the
  subcomponents;
- lines folded as icalendar folds them (3.1): before the 75th octet, never inside a UTF-8
  sequence or right after a backslash.

Anything else raises TypeError (an INTEGER out of range ValueError, as in icalendar), so a new
kind of value cannot slip into the feed unwritten.
The VTIMEZONEs stay icalendar's (`calendars.ical.timezone_text`).
"""

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

from icalendar import Alarm, Event, vDuration, vRecur
from icalendar.timezone.tzid import tzid_from_tzinfo

from calendars.vtimezone import rule_last_day

# Always written in UTC, whatever zone the value comes in (RFC 5545 3.8.7; icalendar's add()).
UTC_PROPERTIES = frozenset({"DTSTAMP", "CREATED", "LAST-MODIFIED"})
# The properties a fragment's VTIMEZONEs must cover (calendars.ical.finish reads the same two).
SPAN_PROPERTIES = frozenset({"DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE"})
FOLD_AT = 75  # octets, RFC 5545 3.1
INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1  # RFC 5545 3.3.8
CANONICAL_ORDER = {"VEVENT": Event.canonical_order or (), "VALARM": Alarm.canonical_order or ()}
CANONICAL = {name: frozenset(order) for name, order in CANONICAL_ORDER.items()}
NEEDS_ESCAPE = re.compile(r"[\\;,\r\n]")


@lru_cache(maxsize=256)
def _tzid(zone: tzinfo) -> str | None:
    """The TZID icalendar gives a zone ("UTC" for UTC and its aliases), None if it knows none."""
    return tzid_from_tzinfo(zone)


@lru_cache(maxsize=256)
def _duration(value: timedelta) -> str:
    return vDuration(value).to_ical().decode()


def escape_text(text: str) -> str:
    """A TEXT value as RFC 5545 3.3.11 writes it, in icalendar's order of replacements."""
    if not NEEDS_ESCAPE.search(text):  # most subjects and places: nothing to do
        return text
    return (
        text.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """A content line folded as icalendar folds it: each piece under 75 octets, a fold never
    inside a UTF-8 sequence, and never right after a backslash or caret (an escape stays whole)."""
    if len(line) < FOLD_AT and (line.isascii() or len(line.encode()) < FOLD_AT):
        return line
    if line.isascii():
        return _fold_ascii(line)
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = 1 if char < "\x80" else len(char.encode())
        if current and size + width >= FOLD_AT:
            if len(current) > 1 and current[-1] in "\\^":
                carried = current.pop()
                pieces.append("".join(current))
                current, size = [carried], len(carried.encode())
            else:
                pieces.append("".join(current))
                current, size = [], 0
        current.append(char)
        size += width
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


def _fold_ascii(line: str) -> str:
    """`fold` for a line of one-octet characters (most of a feed): pieces of 74 characters,
    one fewer where the 74th would be a backslash or caret."""
    width = FOLD_AT - 1
    pieces = []
    start = 0
    while len(line) - start > width:
        end = start + width
        if line[end - 1] in "\\^":
            end -= 1
        pieces.append(line[start:end])
        start = end
    pieces.append(line[start:])
    return "\r\n ".join(pieces)


@lru_cache(maxsize=1024)
def _utc_stamp(value: datetime) -> str:
    """DTSTAMP and LAST-MODIFIED carry the same moment: written once. icalendar reads a naive
    value here as UTC already."""
    return _stamp(value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC))


def _stamp(value: datetime) -> str:
    # %-formatting: twice as fast as an f-string with format specs, and called ~5 times per event.
    return "%04d%02d%02dT%02d%02d%02d" % (value.year, value.month, value.day, value.hour, value.minute, value.second)  # noqa: UP031


class TextComponent:
    """A VEVENT or VALARM written as text while it is built.

    `tzids` holds the TZIDs its lines name (UTC excluded), `span` the dates its DTSTART, DTEND,
    RECURRENCE-ID, RDATE and EXDATE fall on and its RRULE's last day (`ENDLESS` without UNTIL),
    subcomponents included: what the calendar around it needs for its VTIMEZONEs.
    """

    __slots__ = ("name", "properties", "span", "subcomponents", "tzids")

    def __init__(self, name: str) -> None:
        self.name = name
        self.properties: dict[str, list[str]] = {}
        self.subcomponents: list[TextComponent] = []
        self.tzids: set[str] = set()
        self.span: list[date] = []

    def add(self, name: str, value: object) -> None:
        """Add one property; a second of the same name is a second line (EXDATE, RDATE).
        Raises TypeError for a value the feed never writes, ValueError for an integer outside
        iCalendar's range (as icalendar does)."""
        name = name.upper()
        if isinstance(value, str):
            line = f"{name}:{escape_text(value)}"
        elif isinstance(value, datetime):
            line = self._date_time(name, value)
            if name in SPAN_PROPERTIES:
                self.span.append(value.date())
        elif isinstance(value, date):
            line = f"{name};VALUE=DATE:{value.year:04}{value.month:02}{value.day:02}"
            if name in SPAN_PROPERTIES:
                self.span.append(value)
        elif isinstance(value, bool):
            raise TypeError(f"{name}: the feed writes no BOOLEAN values.")
        elif isinstance(value, int):
            if not INTEGER_MIN <= value <= INTEGER_MAX:
                raise ValueError(f"{name}: {value} is outside the iCalendar INTEGER range (RFC 5545 3.3.8).")
            line = f"{name}:{value}"
        elif isinstance(value, timedelta):
            line = f"{name}:{_duration(value)}"
        elif isinstance(value, vRecur):
            line = f"{name}:{value.to_ical().decode()}"
            if name == "RRULE":
                self.span.append(rule_last_day(value))
        else:
            raise TypeError(f"{name}: the feed writer has no iCalendar type for {type(value).__name__}.")
        self.properties.setdefault(name, []).append(fold(line))

    def _date_time(self, name: str, value: datetime) -> str:
        if name in UTC_PROPERTIES:
            return f"{name}:{_utc_stamp(value)}Z"
        if value.tzinfo is None:
            return f"{name}:{_stamp(value)}"  # floating (RFC 5545 3.3.5, form 1)
        tzid = _tzid(value.tzinfo) or value.tzname()
        if tzid == "UTC":
            return f"{name}:{_stamp(value)}Z"
        self.tzids.add(tzid)
        return f"{name};TZID={tzid}:{_stamp(value)}"

    def add_component(self, component: "TextComponent") -> None:
        self.subcomponents.append(component)
        self.tzids |= component.tzids
        self.span += component.span

    def lines(self) -> list[str]:
        properties = self.properties
        lines = [f"BEGIN:{self.name}"]
        for name in CANONICAL_ORDER.get(self.name, ()):
            if name in properties:
                lines += properties[name]
        for name in sorted(properties.keys() - CANONICAL.get(self.name, frozenset())):
            lines += properties[name]
        for component in self.subcomponents:
            lines += component.lines()
        lines.append(f"END:{self.name}")
        return lines

    def to_ical(self) -> bytes:
        """The component as RFC 5545 text, every line ended by CRLF."""
        return ("\r\n".join(self.lines()) + "\r\n").encode()
