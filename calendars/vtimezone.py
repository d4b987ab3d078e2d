"""The VTIMEZONE blocks the helpdesk writes: one builder for the phone feed, e-mail attachments and
CalDAV entries.

icalendar's own `Timezone.from_tzid` lists every change of a zone as one comma-separated RDATE
value; Radicale (vobject) keeps only the first value of such a line, so an entry stored there had
no summer time after 1978. We write what Outlook and Thunderbird write instead: one STANDARD and
one DAYLIGHT observance with a yearly RRULE (RFC 5545 3.6.5, 3.8.5.3) when the zone's changes in
the years the entry needs follow one yearly rule, and otherwise one RDATE line per change
(RFC 5545 3.8.5.2 allows the property to repeat), bounded to those years.
"""

from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class _Change:
    """One change of offset: `local` is the wall clock just before it (RFC 5545: the onset in
    TZOFFSETFROM time), offsets are timedeltas east of UTC."""

    local: datetime
    offset_from: timedelta
    offset_to: timedelta
    name: str
    daylight: bool


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
                    daylight=local.dst() > timedelta(0),  # Europe/Dublin's winter is a negative DST
                )
            )
            before = after
        moment = following
    return changes


def _yearly_rule(changes: list[_Change]) -> str | None:
    """The RRULE (FREQ=YEARLY;BYMONTH;BYDAY) that gives exactly these changes, one a year in
    consecutive years at the same wall-clock time, or None when no such rule does."""
    years = [c.local.year for c in changes]
    if years != list(range(years[0], years[0] + len(years))):
        return None
    first = changes[0].local
    if any(
        (c.local.month, c.local.time(), c.local.weekday()) != (first.month, first.time(), first.weekday())
        for c in changes
    ):
        return None
    day = _DAYS[first.weekday()]
    if all(c.local.day > month_calendar.monthrange(c.local.year, c.local.month)[1] - 7 for c in changes):
        return f"FREQ=YEARLY;BYMONTH={first.month};BYDAY=-1{day}"
    weeks = {(c.local.day - 1) // 7 + 1 for c in changes}
    if len(weeks) == 1:
        return f"FREQ=YEARLY;BYMONTH={first.month};BYDAY={weeks.pop()}{day}"
    return None


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

    Shape: one STANDARD observance from `first` with the offset then in force, then for each kind
    of change (the same offsets and name) either one observance with a yearly RRULE, when the
    changes from `first` to `last` follow one (as every zone with today's rules does, given a span
    of two years or more), or one observance with one RDATE line per change.
    """
    if tzid.upper() in ("UTC", "Z", "ETC/UTC"):
        return None
    try:
        zone = ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    block = icalendar.Timezone()
    block.add("tzid", tzid)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC).astimezone(zone)
    opening = start.utcoffset()
    block.add_component(
        _observance(
            "DAYLIGHT" if start.dst() > timedelta(0) else "STANDARD",
            start.replace(tzinfo=None),
            opening,
            opening,
            start.tzname() or "",
        )
    )
    kinds: dict[tuple, list[_Change]] = {}
    for change in _changes(zone, first, last):
        kinds.setdefault((change.daylight, change.offset_from, change.offset_to, change.name), []).append(change)
    for (daylight, offset_from, offset_to, name), changes in kinds.items():
        observance = _observance("DAYLIGHT" if daylight else "STANDARD", changes[0].local, offset_from, offset_to, name)
        rule = _yearly_rule(changes) if len(changes) > 1 else None
        if rule:
            observance.add("rrule", icalendar.vRecur.from_ical(rule))
        else:
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


def entry_span(calendar: icalendar.Calendar, *, today: date, years_after: int = 2) -> tuple[date, date]:
    """The days a calendar's VTIMEZONEs must cover: from the day before its first DTSTART/DTEND/
    RECURRENCE-ID/RDATE/EXDATE (or `today`) to `years_after` years after its last (or `today`)."""
    days = []
    for component in calendar.walk("VEVENT"):
        for name in ("dtstart", "dtend", "recurrence-id"):
            if name in component:
                value = component.decoded(name)
                days.append(value.date() if isinstance(value, datetime) else value)
    first = min([*days, today]) - timedelta(days=1)
    last = max([*days, today]) + timedelta(days=365 * years_after)
    return first, last
