"""RRULE (RFC 5545 3.3.10) <-> Microsoft's recurrence patterns, shared by the connectors that speak them
(Microsoft 365 over Graph: "recurrencePattern resource type"; Exchange over EWS: the same six pattern
kinds). A rule the patterns cannot say exactly is refused with a ProviderError naming why; nothing is
written in its place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from calendars.rule_parts import rule_text_parts
from helpdesk.parsing import is_whole_number

from .base import ProviderError, UnreadableEntry

DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Microsoft's `index` of a relative pattern as a BYSETPOS / BYDAY position.
POSITIONS = (1, 2, 3, 4, -1)
# The rule parts a Microsoft pattern and range can carry.
KNOWN_PARTS = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "COUNT", "UNTIL", "WKST"}


@dataclass(frozen=True)
class MicrosoftPattern:
    """A recurrence pattern as Microsoft holds it. `kind`: Graph's pattern type ("daily", "weekly",
    "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"); `days`: RFC 5545 day
    codes ("MO"); `first_day`: the week start code (WKST); `index`: the position among `days` in the
    month (1..4, -1 for last) of relative kinds; `count` / `until` (the raw UNTIL value): the range."""

    kind: str
    interval: int
    days: tuple[str, ...] = ()
    first_day: str = "MO"
    index: int | None = None
    day_of_month: int | None = None
    month: int | None = None
    count: int | None = None
    until: str | None = None


def rule_parts(rule: str) -> dict[str, str]:
    """An RRULE value ("RRULE:" prefix allowed) as {part name: value}, both upper case
    (`calendars.rule_parts.rule_text_parts`, the one splitter)."""
    return {name: value.upper() for name, value in rule_text_parts(rule)}


def _one_number(parts: dict[str, str], name: str, rule: str, system: str, low: int, high: int) -> int | None:
    value = parts.get(name)
    if value is None:
        return None
    if "," in value:
        raise ProviderError(f"{system} cannot hold the repeat rule {rule!r}: it holds one {name} value, not {value}.")
    try:
        number = int(value)
    except ValueError:
        raise ProviderError(f"The repeat rule {rule!r} has {name}={value}, which is not a number.") from None
    if not low <= number <= high:
        raise ProviderError(f"{system} cannot hold the repeat rule {rule!r}: {name}={value} is out of its range.")
    return number


def pattern_for(rule: str, first: date, *, system: str) -> MicrosoftPattern:
    """The Microsoft pattern that repeats exactly as `rule` (an RRULE value) from the series' first day
    `first` (its wall-clock date). `system` names the calendar in messages ("Microsoft 365").
    Raises ProviderError for any rule no pattern says exactly: parts a pattern lacks (BYHOUR, BYWEEKNO,
    ...), lists where a pattern holds one value (BYMONTHDAY=1,15, BYMONTH=1,7), hourly and finer, every
    given weekday of a month or year (MONTHLY;BYDAY=MO), a fifth weekday, COUNT with UNTIL."""
    parts = rule_parts(rule)
    unsupported = set(parts) - KNOWN_PARTS
    if unsupported:
        raise ProviderError(f"{system} cannot hold the repeat rule {rule!r} ({', '.join(sorted(unsupported))}).")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ProviderError(f"The repeat rule {rule!r} has both COUNT and UNTIL (RFC 5545 allows one).")
    if "UNTIL" in parts and not re.fullmatch(r"\d{8}(T\d{6}Z?)?", parts["UNTIL"]):
        raise ProviderError(f"The repeat rule {rule!r} has UNTIL={parts['UNTIL']}, which is no RFC 5545 date or time.")
    freq = parts.get("FREQ")
    interval = _one_number(parts, "INTERVAL", rule, system, 1, 999) or 1
    count = _one_number(parts, "COUNT", rule, system, 1, 999)
    month_day = _one_number(parts, "BYMONTHDAY", rule, system, 1, 31)
    month = _one_number(parts, "BYMONTH", rule, system, 1, 12)
    setpos = _one_number(parts, "BYSETPOS", rule, system, -1, 4)
    week_start = parts.get("WKST", "MO")
    if week_start not in DAY_CODES:
        raise ProviderError(f"The repeat rule {rule!r} has an unknown week start WKST={week_start}.")
    days: list[tuple[int | None, str]] = []
    for item in (d for d in parts.get("BYDAY", "").split(",") if d):
        code, position = item[-2:], item[:-2]
        if code not in DAY_CODES or (position and not is_whole_number(position, signed=True)):
            raise ProviderError(f"The repeat rule {rule!r} has an unknown day {item}.")
        days.append((int(position) if position else None, code))
    codes = tuple(code for _, code in days)
    positioned = [p for p, _ in days if p is not None]
    common = {"interval": interval, "first_day": week_start, "count": count, "until": parts.get("UNTIL")}

    def refuse(why: str) -> ProviderError:
        return ProviderError(f"{system} cannot hold the repeat rule {rule!r}: {why}.")

    if freq == "DAILY" or freq == "WEEKLY":
        if month_day or month or setpos or positioned:
            raise refuse("a daily or weekly pattern has no month days, months or positions")
        if freq == "DAILY" and not codes:
            return MicrosoftPattern(kind="daily", **common)
        if freq == "DAILY" and interval != 1:
            raise refuse("every few days on given weekdays is no Microsoft pattern")
        # DAILY;BYDAY=MO,..,FR is every week on those days (RFC 5545 3.3.10, BYDAY limits a daily rule).
        return MicrosoftPattern(kind="weekly", days=codes or (DAY_CODES[first.weekday()],), **common)
    if freq not in ("MONTHLY", "YEARLY"):
        raise refuse(f"Microsoft patterns repeat daily, weekly, monthly or yearly, not {str(freq).lower()}")
    yearly = freq == "YEARLY"
    if month and not yearly:
        raise refuse("a monthly pattern has no months")
    if not codes:
        if setpos:
            raise refuse("BYSETPOS needs weekdays")
        return MicrosoftPattern(
            kind="absoluteYearly" if yearly else "absoluteMonthly",
            day_of_month=month_day or first.day,
            month=(month or first.month) if yearly else None,
            **common,
        )
    if month_day:
        raise refuse("a pattern has either a day of the month or weekdays")
    if yearly and not month:
        raise refuse("a yearly pattern on weekdays needs its month (BYMONTH)")
    if positioned:
        if len(days) != 1 or setpos:
            raise refuse("a relative pattern has one position for all its weekdays")
        index = positioned[0]
    elif setpos:
        index = setpos
    else:
        raise refuse(f"every {'/'.join(codes)} of the {'year' if yearly else 'month'} is no Microsoft pattern")
    if index not in POSITIONS:
        raise refuse(f"position {index} of the month is not first to fourth or last")
    return MicrosoftPattern(
        kind="relativeYearly" if yearly else "relativeMonthly", days=codes, index=index, month=month, **common
    )


def rrule_for(pattern: MicrosoftPattern) -> list[str]:
    """The RRULE parts (no range) that repeat as `pattern`: a relative pattern on several days is
    BYDAY=<days>;BYSETPOS=<index> (RFC 5545 3.3.10), on one day BYDAY=<index><day>; a week start other
    than Monday (RFC 5545's default) is written as WKST."""
    kind = pattern.kind
    parts = []
    if kind == "daily":
        parts += ["FREQ=DAILY", f"INTERVAL={pattern.interval}"]
    elif kind == "weekly":
        parts += ["FREQ=WEEKLY", f"INTERVAL={pattern.interval}", f"BYDAY={','.join(pattern.days)}"]
        if pattern.first_day != "MO":
            parts.append(f"WKST={pattern.first_day}")
    else:
        parts += ["FREQ=YEARLY" if "Yearly" in kind else "FREQ=MONTHLY", f"INTERVAL={pattern.interval}"]
        if "Yearly" in kind:
            parts.append(f"BYMONTH={pattern.month}")
        if kind.startswith("relative"):
            if len(pattern.days) == 1:
                parts.append(f"BYDAY={pattern.index}{pattern.days[0]}")
            else:
                parts += [f"BYDAY={','.join(pattern.days)}", f"BYSETPOS={pattern.index}"]
        else:
            parts.append(f"BYMONTHDAY={pattern.day_of_month}")
    return parts


def range_parts(
    *, numbered: bool = False, count: object = None, end: date | None = None, all_day: bool, zone: str
) -> list[str]:
    """The RRULE range parts of a Microsoft recurrence range: a numbered range (`numbered`, its
    `count` as the server sent it) is COUNT, which must be a whole number >= 1 (else UnreadableEntry
    naming the value: never an endless series, nor text put into the rule), an
    end-date range (`end`, the last day on the series' wall clock) is UNTIL, a range without end is
    nothing. UNTIL is the end date for an all-day series; for a timed one it is the end date's last
    second on the wall clock of `zone` (an IANA name), in UTC, as RFC 5545 3.3.10 wants UNTIL when
    DTSTART has a zone. Graph ("recurrenceRange resource type") and EWS (NumberedRecurrence,
    EndDateRecurrence) hold the same three ranges."""
    if numbered:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise UnreadableEntry(
                f"its numbered repeat range has {str(count)[:40]!r} occurrences, not a whole number >= 1"
            )
        return [f"COUNT={count}"]
    if end is None:
        return []
    if all_day:
        return [f"UNTIL={end:%Y%m%d}"]
    last = datetime(end.year, end.month, end.day, 23, 59, 59, tzinfo=ZoneInfo(zone))
    return [f"UNTIL={last.astimezone(UTC):%Y%m%dT%H%M%SZ}"]
