"""The VTIMEZONE blocks the helpdesk writes: one builder for the phone feed, e-mail attachments and
CalDAV entries.

Shape, as Outlook writes and reads it best: where the tz database keeps one yearly rule for ever
after (the POSIX TZ string at the end of the zone's TZif file, RFC 8536 3.3, e.g. Europe/Amsterdam's
"CET-1CEST,M3.5.0,M10.5.0/3"), the block ends in one STANDARD and one DAYLIGHT observance, each
with an open yearly RRULE from the first year that rule gives every change (RFC 5545 3.6.5: valid
for every instance of a series without end, also in a CalDAV entry or an e-mail attachment that is
never written again). Outlook misreads zones given only as onset dates (RDATE): it matched such a
Europe block to "West-Central Africa" and showed summer times an hour off (iCalcreator #86). The
rule is taken from tzdata, never guessed from a few years, and used only once checked against
zoneinfo's own changes for every year from its first to 2100. A rule such as Israel's "Friday on or
after 23 March" (M3.4.4/26: Thursday of the 4th week at 26:00) is written
BYMONTHDAY=23,...,29;BYDAY=FR, as RFC 5545 3.3.10 allows.

Changes before that (other years' rules, or a zone with none: Africa/Casablanca's Ramadan changes)
are listed as observance onsets (DTSTART, then one RDATE line per later change: RFC 5545 3.8.5.2
allows the property to repeat, and Radicale (vobject) keeps only the first value of a
comma-separated line) over the span the entries need (`entry_span`, `covering_days`).

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

import calendar
import functools
import importlib.resources
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from dateutil import rrule as dateutil_rrule


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


# --- the yearly rule tzdata keeps for ever after (RFC 8536 3.3) ------------------------------------

# A POSIX TZ string with summer time: std offset dst [offset],Mm.w.d[/time],Mm.w.d[/time]. The
# Julian-day forms (Jn, n) are not read: no zone of today's tz database uses them.
_NAME = r"(?:<[^>]*>|[A-Za-z]+)"
_RULE = r"M(\d{1,2})\.([1-5])\.([0-6])(?:/([-+]?\d{1,3}(?::\d{2}){0,2}))?"
_POSIX_TZ = re.compile(rf"^{_NAME}[-+]?[\d:]+{_NAME}(?:[-+]?[\d:]+)?,{_RULE},{_RULE}$")
_DAYS = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"]  # POSIX d: 0 is Sunday
# The last year the rule is checked against zoneinfo: past its last listed change (2037 at the
# latest) zoneinfo applies the same POSIX string, so later years cannot differ.
_CHECKED_UNTIL = 2060


@dataclass(frozen=True)
class _Yearly:
    """One observance written with an open yearly RRULE: `start` its first onset (wall clock in
    TZOFFSETFROM time), `rule` the RRULE text."""

    start: datetime
    rule: str
    offset_from: timedelta
    offset_to: timedelta
    name: str


def _posix_tz(tzid: str) -> str | None:
    """The POSIX TZ string at the end of the zone's TZif file (RFC 8536 3.3), read where zoneinfo
    reads it (zoneinfo.TZPATH, then the tzdata package), or None."""
    for base in zoneinfo.TZPATH:
        path = Path(base, tzid)
        if path.is_file():
            data = path.read_bytes()
            break
    else:
        try:
            package, _, name = f"tzdata.zoneinfo.{tzid}".replace("/", ".").rpartition(".")
            data = importlib.resources.files(package).joinpath(name).read_bytes()
        except (ImportError, OSError, ValueError):
            return None
    if not data.startswith(b"TZif") or data[4:5] < b"2":
        return None
    footer = data.rstrip(b"\n").rpartition(b"\n")[2]
    return footer.decode("ascii", "replace")


def _seconds(text: str | None) -> int:
    """A POSIX rule's time ("2", "-1", "26", "2:30"), default 02:00, in seconds (may be < 0 or > 24h)."""
    if text is None:
        return 2 * 3600
    sign = -1 if text.startswith("-") else 1
    parts = [int(part) for part in text.lstrip("+-").split(":")] + [0, 0]
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])


def _yearly_rule(month: int, week: int, weekday: int, seconds: int) -> tuple[str, timedelta] | None:
    """RRULE text and time of day for POSIX "Mmonth.week.weekday/time": the week-th weekday (5: the
    last) of the month, at a time that may run past midnight (Israel's M3.4.4/26 is the Friday after
    the 4th Thursday, at 02:00). None where the day would leave the month."""
    shift, time_of_day = divmod(seconds, 86400)
    day = _DAYS[(weekday + shift) % 7]
    if shift == 0:
        return f"FREQ=YEARLY;BYMONTH={month};BYDAY={-1 if week == 5 else week}{day}", timedelta(seconds=time_of_day)
    shortest = min(calendar.monthrange(year, month)[1] for year in (2023, 2024))
    if week == 5:
        days = range(-7 + shift, shift)  # from the month's end: -1 is its last day
        if days[-1] >= 0 or days[0] < -shortest:
            return None
    else:
        days = range(7 * (week - 1) + 1 + shift, 7 * week + 1 + shift)
        if days[0] < 1 or days[-1] > shortest:
            return None
    listed = ",".join(str(number) for number in days)
    return f"FREQ=YEARLY;BYMONTH={month};BYMONTHDAY={listed};BYDAY={day}", timedelta(seconds=time_of_day)


def _posix_onset(year: int, month: int, week: int, weekday: int, seconds: int) -> datetime:
    """POSIX "Mmonth.week.weekday/time" in `year`: the week-th weekday (0 Sunday; week 5: the last)
    of the month, plus the time (which may run past midnight or before it), as a wall clock."""
    python_weekday = (weekday - 1) % 7  # Monday 0
    if week == 5:
        last = calendar.monthrange(year, month)[1]
        day = last - (calendar.weekday(year, month, last) - python_weekday) % 7
    else:
        day = 1 + (python_weekday - calendar.weekday(year, month, 1)) % 7 + 7 * (week - 1)
    return datetime(year, month, day) + timedelta(seconds=seconds)


def _year_of_rules(zone: ZoneInfo, rules: list[tuple[tuple, str]], year: int) -> list[_Yearly] | None:
    """The zone's changes in `year` as the rules give them, if zoneinfo agrees: its offset flips at
    each onset (checked a second either side) and nowhere else (checked weekly, a week being far
    shorter than any summer time kept for ever), else None."""
    found = []
    for posix, rule in rules:
        local = _posix_onset(year, *posix)
        # A day before in UTC is before the change and after the one before it (months apart).
        offset_from = _offset(zone, local.replace(tzinfo=UTC) - timedelta(days=1))
        instant = (local - offset_from).replace(tzinfo=UTC)
        after = instant.astimezone(zone)
        if _offset(zone, instant - timedelta(seconds=1)) != offset_from or after.utcoffset() == offset_from:
            return None
        found.append(_Yearly(local, rule, offset_from, after.utcoffset(), after.tzname() or ""))
    found.sort(key=lambda yearly: yearly.start - yearly.offset_from)
    if found[0].offset_from != found[-1].offset_to:
        return None
    probe, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    while probe < end:
        before = [y for y in found if (y.start - y.offset_from).replace(tzinfo=UTC) <= probe]
        if _offset(zone, probe) != (before[-1].offset_to if before else found[0].offset_from):
            return None
        probe += timedelta(days=7)
    return found


@functools.cache
def _open_rules(tzid: str, since: int) -> tuple[_Yearly, ...]:
    """The zone's two yearly observances for ever after: its POSIX TZ rule (`_posix_tz`) written as
    RRULEs, from the first year whose changes they give, checked against zoneinfo every year from
    there to _CHECKED_UNTIL (`_year_of_rules`); () when the zone keeps no summer time, its rule
    cannot be read, or the rule does not hold up to _CHECKED_UNTIL. Years before `since` are not
    looked at (the first onsets are then in `since`, where the span written starts)."""
    match = _POSIX_TZ.match(_posix_tz(tzid) or "")
    if match is None:
        return ()
    rules = []
    for month, week, weekday, time in (match.groups()[:4], match.groups()[4:]):
        posix = (int(month), int(week), int(weekday), _seconds(time))
        made = _yearly_rule(*posix)
        if made is None:
            return ()
        rules.append((posix, made))
    zone, first = ZoneInfo(tzid), None
    for year in range(_CHECKED_UNTIL, max(since, 1970) - 1, -1):
        found = _year_of_rules(zone, [(posix, rule) for posix, (rule, _) in rules], year)
        if found is None or (first is not None and [y[2:] for y in _fields(found)] != [y[2:] for y in _fields(first)]):
            break
        first = found
    if first is None:
        return ()
    # What a reader makes of each RRULE written (dateutil) is the POSIX rule's every onset.
    for posix, (rule, time_of_day) in rules:
        start = _posix_onset(first[0].start.year, *posix)
        read = dateutil_rrule.rrulestr(rule, dtstart=start - time_of_day)
        days = read.between(start - time_of_day, datetime(_CHECKED_UNTIL, 12, 31), inc=True)
        if [day + time_of_day for day in days] != [
            _posix_onset(year, *posix) for year in range(start.year, _CHECKED_UNTIL + 1)
        ]:
            return ()
    return tuple(first)


def _fields(yearly: list[_Yearly]) -> list[tuple]:
    return [(y.start, y.rule, y.offset_from, y.offset_to, y.name) for y in yearly]


def vtimezone(tzid: str, first: date, last: date) -> icalendar.Timezone | None:
    """The VTIMEZONE for the IANA zone `tzid` that is right from `first` to `last` (dates, UTC days),
    or None for a name zoneinfo does not know (or UTC, which needs none: RFC 5545 3.2.19).

    Shape (see the module's text): where the zone keeps a yearly rule for ever after
    (`_open_rules`), one STANDARD and one DAYLIGHT observance with open yearly RRULEs, right for
    ever from their first onset; before that, or for a zone without such a rule, one observance
    from `first` with the offset then in force, then one observance per kind of change (the same
    offsets and name) with the first change as DTSTART and one RDATE line for each later one, onsets
    in TZOFFSETFROM wall clock (RFC 5545 3.6.5). Without a yearly rule, a reader keeps the last
    offset after `last`, so `last` must reach the last day the entries need.
    """
    if tzid.upper() in ("UTC", "Z", "ETC/UTC"):
        return None
    try:
        zone = ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    start = datetime(first.year, first.month, first.day, tzinfo=UTC).astimezone(zone)
    yearly = _open_rules(tzid, first.year)
    # The instant the yearly observances take over (their first onset), if they do in the span.
    takeover = min((y.start - y.offset_from).replace(tzinfo=UTC) for y in yearly) if yearly else None
    if takeover is not None and takeover > datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1):
        yearly, takeover = (), None
    opening = start.utcoffset()
    kinds: dict[tuple, list[_Change]] = {}
    listed = takeover is None or start < takeover
    for change in _changes(zone, first, last) if listed else []:
        if takeover is None or (change.local - change.offset_from).replace(tzinfo=UTC) < takeover:
            kinds.setdefault((change.offset_from, change.offset_to, change.name), []).append(change)
    offsets = [*(offset_to for _, offset_to, _ in kinds), *(y.offset_to for y in yearly)]
    standard = min([opening, *offsets] if listed else offsets)

    def kind(offset: timedelta) -> str:
        return "STANDARD" if offset == standard else "DAYLIGHT"

    block = icalendar.Timezone()
    block.add("tzid", tzid)
    if listed:
        opening_name = start.tzname() or ""
        block.add_component(_observance(kind(opening), start.replace(tzinfo=None), opening, opening, opening_name))
    for (offset_from, offset_to, name), changes in kinds.items():
        observance = _observance(kind(offset_to), changes[0].local, offset_from, offset_to, name)
        for change in changes[1:]:
            observance.add("rdate", change.local)  # one line each: servers keep only a line's first value
        block.add_component(observance)
    for observance in yearly:
        component = _observance(
            kind(observance.offset_to), observance.start, observance.offset_from, observance.offset_to, observance.name
        )
        component.add("rrule", icalendar.vRecur.from_ical(observance.rule))
        block.add_component(component)
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
