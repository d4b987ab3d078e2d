"""The VTIMEZONE blocks the helpdesk writes: one builder for the phone feed, e-mail attachments and
CalDAV entries.

Each block lists every change of offset of the zone inside a span of days as an observance onset
(DTSTART, then one RDATE line per later change: RFC 5545 3.8.5.2 allows the property to repeat,
and Radicale (vobject) keeps only the first value of a comma-separated line). No yearly RRULE is
guessed: tzdata's rules such as Israel's "Friday on or after 23 March" fit `BYDAY=4FR` for two
years and then fail, and an open RRULE runs for ever (RFC 5545 3.8.5.3). So the block is right
exactly over the span it is built for, and callers pass the span of the entries written
(`entry_span`, `covering_days`: an endless series to a horizon).

Why not icalendar's own `Timezone.from_tzid` (7.3): it finds changes by stepping, and misses a
pair that returns to the same offset within a step (Africa/Casablanca's Ramadan change of
7 February - 14 March 2027 is not in its block for 2026-2029), and it writes a spring onset in
the new offset's wall clock, one hour late for a reader (RFC 5545 3.6.5 asks TZOFFSETFROM time).
The changes here are found day by day and then to the second by halving against zoneinfo.

The observances with a zone's smallest offset in the span are STANDARD, the others DAYLIGHT:
what Outlook and Windows write and expect, also for Europe/Dublin, whose winter zoneinfo calls
a negative DST.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar


@dataclass(frozen=True)
class _Change:
    """One change of offset: `local` is the wall clock just before it (RFC 5545: the onset in
    TZOFFSETFROM time), offsets are timedeltas east of UTC."""

    local: datetime
    offset_from: timedelta
    offset_to: timedelta
    name: str


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    return instant.astimezone(zone).utcoffset()


def _changes(zone: ZoneInfo, first: date, last: date) -> list[_Change]:
    """The zone's offset changes between `first` and `last` (whole days, UTC), found day by day
    and then to the second by halving."""
    changes = []
    moment = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    before = _offset(zone, moment)
    while moment < end:
        following = moment + timedelta(days=1)
        after = _offset(zone, following)
        if after != before:
            low, high = moment, following  # the offset at `low` is `before`, at `high` another
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if _offset(zone, middle) == before:
                    low = middle
                else:
                    high = middle
            high = high.replace(microsecond=0)
            local = high.astimezone(zone)
            changes.append(
                _Change(
                    local=(high + before).replace(tzinfo=None),
                    offset_from=before,
                    offset_to=local.utcoffset(),
                    name=local.tzname() or "",
                )
            )
            before = after
        moment = following
    return changes


# An entry's span is widened by this much after its last date: an entry moved a little later
# still finds its zone's offsets.
MARGIN_AFTER = timedelta(days=2 * 365)
# A series without UNTIL runs for ever (RFC 5545 3.8.5.3); its zones are written this far past
# today. A feed is read again every few hours and written anew, so this moves along with it.
OPEN_SERIES_YEARS = 10
# The last day of a series without UNTIL, in a list of days (`span_days`, `Fragment.last`).
ENDLESS = date.max


def _observance(kind: str, start: datetime, offset_from, offset_to, name: str) -> icalendar.cal.Component:
    component = icalendar.TimezoneDaylight() if kind == "DAYLIGHT" else icalendar.TimezoneStandard()
    component.add("dtstart", start)
    if name:
        component.add("tzname", name)
    component.add("tzoffsetfrom", offset_from)
    component.add("tzoffsetto", offset_to)
    return component


def vtimezone(tzid: str, first: date, last: date) -> icalendar.Timezone | None:
    """The VTIMEZONE for the IANA zone `tzid` that is right from `first` to `last` (dates, UTC days),
    or None for a name zoneinfo does not know (or UTC, which needs none: RFC 5545 3.2.19).

    Shape: one observance from `first` with the offset then in force, then one observance per
    kind of change (the same offsets and name) with the first change as DTSTART and one RDATE
    line for each later one, onsets in TZOFFSETFROM wall clock (RFC 5545 3.6.5). After `last` a
    reader keeps the last offset, so `last` must reach the last day the entries need.
    """
    if tzid.upper() in ("UTC", "Z", "ETC/UTC"):
        return None
    try:
        zone = ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    start = datetime(first.year, first.month, first.day, tzinfo=UTC).astimezone(zone)
    opening = start.utcoffset()
    kinds: dict[tuple, list[_Change]] = {}
    for change in _changes(zone, first, last):
        kinds.setdefault((change.offset_from, change.offset_to, change.name), []).append(change)
    standard = min([opening, *(offset_to for _, offset_to, _ in kinds)])

    def kind(offset: timedelta) -> str:
        return "STANDARD" if offset == standard else "DAYLIGHT"

    block = icalendar.Timezone()
    block.add("tzid", tzid)
    block.add_component(_observance(kind(opening), start.replace(tzinfo=None), opening, opening, start.tzname() or ""))
    for (offset_from, offset_to, name), changes in kinds.items():
        observance = _observance(kind(offset_to), changes[0].local, offset_from, offset_to, name)
        for change in changes[1:]:
            observance.add("rdate", change.local)  # one line each: servers keep only a line's first value
        block.add_component(observance)
    return block


def add_missing_vtimezones(calendar: icalendar.Calendar, first: date, last: date) -> icalendar.Calendar:
    """Add to `calendar` a `vtimezone` (first..last) for every TZID its entries use that has no
    VTIMEZONE in it yet; VTIMEZONEs already there (an external client's) are left as they are.
    Unknown zone names get none, as icalendar's add_missing_timezones does. Returns `calendar`."""
    position = len(calendar.timezones)
    for tzid in sorted(calendar.get_missing_tzids()):
        block = vtimezone(tzid, first, last)
        if block is not None:
            calendar.subcomponents.insert(position, block)
            position += 1
    return calendar


def rule_last_day(rule: icalendar.vRecur) -> date:
    """The last day a recurrence rule can reach: its UNTIL (a date, or a date-time's UTC day), or
    `ENDLESS` for a rule without one (COUNT included: counted without its start, the last
    occurrence is unknown here, so the horizon covers it)."""
    until = rule.get("UNTIL")
    if not until:
        return ENDLESS
    value = until[0]
    return value.astimezone(UTC).date() if isinstance(value, datetime) and value.tzinfo else _day(value)


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def covering_days(days: Iterable[date], *, today: date) -> tuple[date, date]:
    """The span (first, last; dates) the VTIMEZONEs of entries mentioning `days` must cover: from
    the day before the first (or `today`) to `MARGIN_AFTER` past the last (or `today`), and at
    least `OPEN_SERIES_YEARS` past today when a day is `ENDLESS` (a series without UNTIL)."""
    days = list(days)
    bounded = [day for day in days if day != ENDLESS]
    first = min([*bounded, today]) - timedelta(days=1)
    last = max([*bounded, today]) + MARGIN_AFTER
    if ENDLESS in days:
        last = max(last, today.replace(year=today.year + OPEN_SERIES_YEARS, day=min(today.day, 28)))
    return first, last


def span_days(calendar: icalendar.Calendar) -> list[date]:
    """Every day a calendar's VEVENTs mention: DTSTART, DTEND, RECURRENCE-ID, each RDATE and
    EXDATE value, and each RRULE's last day (`rule_last_day`, `ENDLESS` without UNTIL)."""
    days = []
    for component in calendar.walk("VEVENT"):
        for name in ("dtstart", "dtend", "recurrence-id"):
            if name in component:
                days.append(_day(component.decoded(name)))
        for name in ("rdate", "exdate"):
            lines = component.get(name, [])
            for line in lines if isinstance(lines, list) else [lines]:
                days.extend(_day(value.dt) for value in line.dts if isinstance(value.dt, date))
        rules = component.get("rrule", [])
        days.extend(rule_last_day(rule) for rule in (rules if isinstance(rules, list) else [rules]))
    return days


def entry_span(calendar: icalendar.Calendar, *, today: date) -> tuple[date, date]:
    """The days (first, last) a calendar's VTIMEZONEs must cover: `covering_days` of every day its
    entries mention (`span_days`: DTSTART/DTEND/RECURRENCE-ID/RDATE/EXDATE and RRULE UNTIL)."""
    return covering_days(span_days(calendar), today=today)
