"""Times as calendars write them, turned into the helpdesk's, and back: one place for all of it.

The helpdesk keeps instants (aware datetimes, stored in UTC) and, for a series, the IANA zone
whose wall clock the rule repeats on. External calendars write:
- IANA zone names (Google, Apple, Nextcloud, Thunderbird): used as they are;
- Windows zone names with a VTIMEZONE block (Outlook, Exchange): mapped to IANA by icalendar's
  own table (`icalendar.timezone.windows_to_olson`);
- custom VTIMEZONE blocks under names nobody knows: matched to the IANA zone with the same
  offsets (the technician's own zone first), in the spirit of
  `icalendar.timezone.equivalent_timezone_ids`, but over the years the entry uses;
- floating times (no zone, RFC 5545 3.3.5 form #1): the reader's wall clock, which in the
  helpdesk is the technician's;
- dates (VALUE=DATE): all-day, kept as dates, never moved through a zone.

A wall-clock time that a DST change skips is read with the offset before the gap, one that
occurs twice with the first offset (RFC 5545 3.3.5); zoneinfo's fold=0 does exactly that.
"""

from __future__ import annotations

import contextlib
import functools
import re
import weakref
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# How far around an entry a custom zone must agree with an IANA zone to count as the same.
MATCH_YEARS = 2
MATCH_STEP = timedelta(hours=6)


def zone_named(name: str | None) -> ZoneInfo | None:
    """The IANA zone for a zone name as calendars write it: an IANA name, a Windows name
    ("W. Europe Standard Time"), or a globally unique TZID ending in an IANA name
    ("/mozilla.org/20050126_1/Europe/Berlin"); None when the name says nothing we know."""
    if not name:
        return None
    name = str(name).strip()
    candidates = [name.strip("/")]
    windows_names = _windows_zone_names()
    if name in windows_names:
        candidates.insert(0, windows_names[name])
    parts = name.strip("/").split("/")
    candidates += ["/".join(parts[i:]) for i in range(1, len(parts))]
    for candidate in candidates:
        if candidate in _iana_names():
            return ZoneInfo(canonical_zone_name(candidate))  # never a deprecated alias
    if name.upper() in ("UTC", "Z", "GMT", "ETC/UTC"):
        return ZoneInfo("UTC")
    return None


@functools.cache
def _windows_zone_names() -> dict[str, str]:
    """icalendar's table of Windows zone names to IANA ones ({"W. Europe Standard Time":
    "Europe/Berlin", ...}), read when a zone name is first looked up: importing it imports the whole
    icalendar package (about 80 modules: 3-5% of `sync_calendars`' start-up CPU, 2.4 MiB of its
    peak), which a process that reads no external zone name does not need (a command's or a
    worker's start-up, an unchanged Graph, Google or Exchange poll; issue 14). A CalDAV sync
    still reads icalendar with its connector."""
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

    return WINDOWS_TO_OLSON


@functools.cache
def _iana_names() -> frozenset[str]:
    return frozenset(available_timezones() - {"localtime", "Factory"})


@functools.cache
def _zone_links() -> dict[str, str]:
    """The tz database's deprecated names and what they stand for ({"US/Eastern":
    "America/New_York", "Asia/Calcutta": "Asia/Kolkata", ...}): its links ("L target link" lines
    of tzdata.zi, zic(8)'s input) less the names zone.tab still lists for a country (since 2022
    "Europe/Amsterdam" is a link to "Europe/Brussels", yet it is the Netherlands' own name, not
    an alias). Read from the tzdata package and the system's zone directory, whichever exist."""
    import importlib.resources
    import zoneinfo

    def read(name: str) -> list[str]:
        texts = []
        with contextlib.suppress(ImportError, OSError):
            texts.append(importlib.resources.files("tzdata.zoneinfo").joinpath(name).read_text())
        for root in zoneinfo.TZPATH:
            with contextlib.suppress(OSError):
                texts.append(Path(root, name).read_text())
        return texts

    listed = set()
    for text in read("zone.tab"):
        listed |= {line.split("\t")[2] for line in text.splitlines() if line and not line.startswith("#")}
    links = {}
    for text in read("tzdata.zi"):
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "L" and parts[2] not in listed:
                links.setdefault(parts[2], parts[1])
    return links


# The POSIX-style names ("CET", "WET", "EST", "EST5EDT") and the short upper-case aliases ("UCT",
# "PRC") are kept as written: tzdata 2024b made the POSIX-style zones links ("WET" to
# "Europe/Lisbon", which kept CET in 1992-96; "CET" to "Europe/Brussels"), which are not aliases
# of the same clock, and an Outlook or Java export on TZID "CET" should not come back as Brussels.
_POSIX_STYLE = re.compile(r"[A-Z]{2,4}(?:\d{1,2}[A-Z]{3})?")


def canonical_zone_name(name: str) -> str:
    """The tz database's current name for a zone name: a deprecated alias ("US/Eastern",
    "Asia/Calcutta", "Europe/Kiev": tz's "backward" file) gives the zone it stands for
    ("America/New_York", ...); any other name comes back as it is. UTC stays "UTC" (written as
    "Z", RFC 5545 3.3.5 form 2, never as a TZID)."""
    if name in ("UTC", "") or _POSIX_STYLE.fullmatch(name):
        return name
    seen = {name}
    while name in _zone_links() and _zone_links()[name] not in seen:  # a link may name a link
        name = _zone_links()[name]
        seen.add(name)
    return name


def canonical_zone(zone: ZoneInfo) -> ZoneInfo:
    """`zone` under its canonical tz name (`canonical_zone_name`): what a TZID we write names."""
    key = getattr(zone, "key", None)
    if not key:
        return zone
    name = canonical_zone_name(key)
    return zone if name == key else ZoneInfo(name)


def _offsets(zone: tzinfo, probes: tuple[datetime, ...]) -> tuple:
    """zone's UTC offsets at the (naive, ascending) probes."""
    fast = _vtimezone_offsets(zone, probes)
    if fast is not None:
        return fast
    return tuple(zone.utcoffset(moment) for moment in probes)


def _vtimezone_offsets(zone: tzinfo, probes: tuple[datetime, ...]) -> tuple | None:
    """The offsets dateutil's zone of a VTIMEZONE block (tz._tzicalvtz, what icalendar builds for a
    TZID that is no IANA name) gives at the probes, in one pass over its onsets; None for another
    kind of zone. dateutil answers each utcoffset() by walking every onset since the block's
    DTSTART (Outlook writes 1601): thousands of probes took seconds an entry. Same rule as
    dateutil's _find_comp: the observance with the latest onset at or before the time (the first
    listed on a tie); before any onset, the first standard one."""
    comps = getattr(zone, "_comps", None)
    if type(zone).__name__ != "_tzicalvtz" or not comps:
        return None
    if len(comps) == 1:
        return tuple(comps[0].tzoffsetto for _ in probes)
    onsets = []
    for order, comp in enumerate(comps):
        before = comp.rrule.before(probes[0], inc=True)
        if before is not None:
            onsets.append((before, -order, comp))
        onsets += [(moment, -order, comp) for moment in comp.rrule.between(probes[0], probes[-1], inc=True)]
    onsets.sort(key=lambda onset: onset[:2])
    fallback = next((comp for comp in comps if not comp.isdst), comps[0])
    current, index, out = None, 0, []
    for probe in probes:
        while index < len(onsets) and onsets[index][0] <= probe:
            current = onsets[index][2]
            index += 1
        out.append((current or fallback).tzoffsetto)
    return tuple(out)


@functools.cache
def _probes(year: int) -> tuple[datetime, ...]:
    moment, end = datetime(year - 1, 1, 1), datetime(year + MATCH_YEARS, 1, 1)
    out = []
    while moment < end:
        out.append(moment)
        moment += MATCH_STEP
    return tuple(out)


def equivalent_zone(zone: tzinfo, *, around: date, prefer: ZoneInfo | None = None) -> ZoneInfo | None:
    """The IANA zone whose UTC offsets equal `zone`'s every six hours from a year before
    `around` to two years after (a custom VTIMEZONE block describes only the rules it needs);
    `prefer` (the technician's zone) wins a tie, then the shortest name. None if none fits."""
    probes = _probes(around.year)
    wanted = _offsets(zone, probes)
    if prefer is not None and _offsets(prefer, probes) == wanted:
        return prefer
    # Two cheap probes first, then the full comparison on the few left.
    first = (probes[0], probes[len(probes) // 2 + 2])
    quick = _offsets(zone, first)
    fits = []
    for name in _iana_names():
        candidate = ZoneInfo(name)
        if _offsets(candidate, first) == quick and _offsets(candidate, probes) == wanted:
            fits.append(name)
    if not fits:
        return None
    # Canonical city names ("Europe/Berlin") before aliases ("CET", "Etc/GMT-1"); a deprecated
    # alias that wins ("US/Eastern", shortest) gives the zone it stands for ("America/New_York"):
    # a TZID we write is never an alias of tz's "backward" file.
    fits.sort(key=lambda name: ("/" not in name or name.startswith("Etc/"), len(name), name))
    return ZoneInfo(canonical_zone_name(fits[0]))


def zone_of(value: datetime, *, prefer: ZoneInfo | None = None) -> ZoneInfo | None:
    """The IANA zone an aware datetime from an iCalendar parser is in (icalendar hands back
    ZoneInfo for IANA names and a dateutil zone built from the VTIMEZONE block for others);
    None for a floating time or a zone that matches no IANA zone."""
    tz = value.tzinfo
    if tz is None:
        return None
    if isinstance(tz, ZoneInfo):
        return tz
    if tz is UTC:
        return ZoneInfo("UTC")
    probes = _probes(value.year)
    if prefer is not None and _offsets(prefer, probes) == _offsets(tz, probes):
        return prefer  # the technician's own zone under another name ("W. Europe Standard Time")
    for attribute in ("key", "zone", "_tzid", "_name"):
        named = zone_named(getattr(tz, attribute, None))
        # A block under a known name that describes other rules is taken by its rules.
        if named is not None and _offsets(named, probes) == _offsets(tz, probes):
            return named
    try:
        matched = _MATCHED.setdefault(tz, {})
    except TypeError:  # a zone object that cannot be weakly referenced or hashed: match it each time
        return equivalent_zone(tz, around=value.date(), prefer=prefer)
    # Kept per zone object, not per TZID: the same name is another zone in another calendar object
    # (calendars.ical_zones), while a block read again is the same object.
    key = (value.year, prefer.key if prefer else None)
    if key not in matched:
        matched[key] = equivalent_zone(tz, around=value.date(), prefer=prefer)
    return matched[key]


_MATCHED: weakref.WeakKeyDictionary[tzinfo, dict[tuple, ZoneInfo | None]] = weakref.WeakKeyDictionary()


def on_wall_clock(value: datetime, zone: tzinfo) -> datetime:
    """The instant a wall-clock time (naive, or in an equivalent zone) names in `zone`.

    fold=0: a time the spring change skips is read with the offset before the gap, one that
    occurs twice is the first (RFC 5545 3.3.5)."""
    return value.replace(tzinfo=zone, fold=0)


def wall_shift(before: datetime, after: datetime, zone: tzinfo, zone_before: tzinfo | None = None) -> timedelta:
    """How far a series' start moved from `before` to `after` (both aware) on its wall clock, as a
    naive difference of wall-clock times (not of instants): `after` read on `zone`'s clock (an IANA
    zone), `before` on `zone_before`'s when the series changed clock (else on `zone`'s too), so the
    09:00 of each day stays 09:00 on a new clock and across a DST change, as RFC 5545 3.3.10 repeats
    a rule on the wall clock of its DTSTART's zone. The one shift (`wall_shifted` applies it)."""
    return _wall(after, zone) - _wall(before, zone_before or zone)


def wall_shifted(moment: datetime, shift: timedelta, zone: tzinfo, zone_before: tzinfo | None = None) -> datetime:
    """`moment` (aware) moved by `shift` (a `wall_shift`) on the wall clock, as a series' move moves
    its exceptions: read on `zone_before`'s clock when the series changed clock (else on `zone`'s,
    an IANA zone), shifted, and placed on `zone`'s (aware), so 15:00 stays the 15:00 of each day
    whatever its offset (DST-correct as RFC 5545 3.3.10 reads a rule; a time in a gap or fold as
    `on_wall_clock` reads it). No shift on the same clock keeps `moment` as it is: read again on
    the wall clock, the second of a repeated hour (an RDATE kept as its instant) became the first."""
    if not shift and (zone_before is None or zone_before == zone):
        return moment.astimezone(zone)
    return on_wall_clock(_wall(moment, zone_before or zone) + shift, zone)


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    """`moment` (aware) as the naive wall-clock time `zone` shows for it."""
    return moment.astimezone(zone).replace(tzinfo=None)


def next_whole_hour(moment: datetime, zone: tzinfo) -> datetime:
    """The first whole hour on `zone`'s wall clock after `moment` (aware), in UTC: 10:10 in
    Kathmandu (+05:45) gives 11:00 there (05:15 UTC), not the next whole UTC hour (10:45 there).
    A whole hour the spring change skips is read as `on_wall_clock` reads it."""
    local = moment.astimezone(zone).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    hour = on_wall_clock(local + timedelta(hours=1), zone).astimezone(UTC)
    return hour if hour > moment else hour + timedelta(hours=1)


def is_skipped(value: datetime, zone: tzinfo) -> bool:
    """Does `zone`'s clock skip this naive wall-clock time (the spring change's gap)? zoneinfo
    gives a time in the gap an offset that does not lead back to it (PEP 495)."""
    local = value.replace(tzinfo=zone, fold=0)
    return local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value


def read_wall_clock(value: datetime, zone: tzinfo) -> datetime:
    """A naive wall-clock time typed or sent by a person, read on `zone` (RFC 5545 3.3.5, as
    `on_wall_clock`): 02:30 on a night the clocks skip from 02:00 to 03:00 is read with the offset
    before the gap and so is 03:30 after it; 02:30 on a night that repeats it is the first 02:30.
    Returned on `zone`'s clock as that instant really shows there (03:30+02:00, not 02:30), so a
    form or a message built from it names a time that exists. An aware value is only converted."""
    if value.tzinfo is None:
        value = on_wall_clock(value, zone)
    return value.astimezone(UTC).astimezone(zone)


EXAMPLE_MOMENT = "2035-03-05T09:00"


def parse_moment(text: str | None, zone: tzinfo, *, offset_required: bool = False) -> datetime:
    """The one reading of a date-time a person sends: typed in a form, carried by a link or a
    booking form, or sent to the API. ISO 8601 ("2035-03-05T09:00", seconds and a fraction, "Z"
    or an offset; a date alone is its midnight). Returned aware on the clock it was written on:
    with the offset written (so its date is the day the writer named), or, without one, on
    `zone`'s wall clock as RFC 5545 3.3.5 reads a local time (`read_wall_clock`: the offset
    before a DST gap, the first of a repeated hour). A "+" of an offset that a link's query gave
    back as a space is read as the "+".

    Raises ValueError with a message for the person: nothing given, not ISO 8601, no such day or
    time (2035-02-30, 25:30, +25:00), no offset when `offset_required`, or outside the range the
    helpdesk supports (helpdesk.limits)."""
    from django.utils.dateparse import parse_datetime

    from helpdesk import limits

    text = (text or "").strip()
    if not text:
        raise ValueError(f"Give a date and time, for example {EXAMPLE_MOMENT}.")
    if "T" in text:
        text = text.replace(" ", "+")
    try:
        moment = parse_datetime(text)
    except ValueError:  # the shape of ISO 8601, but no such day, time or offset
        raise ValueError(f"{text} is no real date and time: check the day, the hour and the offset.") from None
    if moment is None:
        raise ValueError(f"{text} is not a date and time as ISO 8601 writes one, for example {EXAMPLE_MOMENT}.")
    if moment.tzinfo is None and offset_required:
        raise ValueError(f"Give {text} with its offset from UTC, for example {EXAMPLE_MOMENT}+01:00.")
    try:
        supported = limits.is_supported(moment)
    except OverflowError:  # an offset that takes a moment past year 1 or 9999
        supported = False
    if not supported:
        raise ValueError(limits.range_message())
    return read_wall_clock(moment, zone) if moment.tzinfo is None else moment


def incoming(value: datetime | date, *, floating: ZoneInfo, prefer: ZoneInfo | None = None) -> datetime | date:
    """One DATE or DATE-TIME value from an external calendar as the helpdesk keeps it: a date
    stays a date; a floating time is on the `floating` wall clock (the technician's); a zoned
    time is put in its IANA zone (wall clock and PEP 495 fold unchanged); a zone nothing matches
    keeps its instant, in UTC."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        return on_wall_clock(value, floating)
    zone = zone_of(value, prefer=prefer or floating)
    if zone is None:
        return value.astimezone(UTC)
    # The fold kept: a value already worked out as the second of a repeated hour (a DTSTART plus an
    # exact DURATION, RFC 5545 3.3.6) stays that instant; one read from text has fold=0 anyway.
    return on_wall_clock(value.replace(tzinfo=None), zone).replace(fold=value.fold)


def exact_length(start: datetime | date, end: datetime | date) -> timedelta:
    """How long from `start` to `end` in exact time when both are aware (on UTC: Python subtracts
    two datetimes with the same tzinfo on the wall clock, so 01:30+02:00 to 03:00+01:00 on an autumn
    night in one zone gave 1 h 30 min, not 2 h 30 min); naive values and dates are subtracted as
    they are (a floating wall clock, days). RFC 5545 3.8.5.3: a series' instances last this exact
    duration; add it back with `end_after`."""
    if isinstance(start, datetime) and isinstance(end, datetime) and start.tzinfo and end.tzinfo:
        return end.astimezone(UTC) - start.astimezone(UTC)
    return end - start


def end_after(start: datetime, duration: timedelta) -> datetime:
    """The end of an occurrence `duration` after `start`: exact time, not wall clock, so an
    occurrence in a DST gap keeps its length (RFC 5545 3.8.5.3: every occurrence has the
    master's exact duration)."""
    return (start.astimezone(UTC) + duration).astimezone(start.tzinfo)


def midnight(day: date, zone: tzinfo) -> datetime:
    """The start of a calendar day in a zone (the instant an all-day entry is indexed at)."""
    return on_wall_clock(datetime(day.year, day.month, day.day), zone)


def date_span(start: datetime | date, end: datetime | date, zone: tzinfo) -> tuple[date, date]:
    """An all-day span as (first day, day after the last): dates as given, or the days on the
    `zone` wall clock of instants; at least one day (RFC 5545 3.6.1: DTEND is exclusive)."""
    first = start.astimezone(zone).date() if isinstance(start, datetime) else start
    if isinstance(end, datetime):
        local_end = end.astimezone(zone)
        after = local_end.date() if local_end.time() == datetime.min.time() else local_end.date() + timedelta(days=1)
    else:
        after = end
    return first, max(after, first + timedelta(days=1))


def outgoing(value: datetime | date, zone: tzinfo, *, repeats: bool = False) -> datetime | date:
    """A helpdesk value as it is written out: a date stays a date, an instant goes on `zone`'s
    wall clock (with its TZID), except an instant whose wall clock is the second of two (the
    repeated hour of an autumn change): that one goes out in UTC (an aware UTC datetime, written
    "...Z"), since RFC 5545 3.3.5 reads a repeated local time as its first occurrence.
    `repeats`: the DTSTART of a series, kept on the wall clock its rule repeats on."""
    if isinstance(value, datetime):
        local = value.astimezone(zone)
        if not repeats and is_second_of_two(local):
            return local.astimezone(UTC)
        return local
    return value


def outgoing_instance(value: datetime | date, zone: tzinfo, *, dtstart: datetime | date | None) -> datetime | date:
    """A value naming one instance of a series (an EXDATE, RDATE or RECURRENCE-ID) as it is written:
    in DTSTART's form (on `zone`'s wall clock, `outgoing(repeats=True)`) when it names DTSTART
    itself, which is written so and read as the first of a repeated hour; else as `outgoing` writes
    an instant, the second of a repeated hour in UTC. Why: RFC 5545 3.3.5 reads a repeated local
    time as its first occurrence, so an extra start (RDATE) at the second 02:30 of an autumn night
    written on the wall clock was read an hour early, and the EXDATE or RECURRENCE-ID naming it
    named another instant. A rule's own instances are on the wall clock with fold=0 (`rule_starts`),
    never the second of two, so they stay on the wall clock either way. `dtstart`: the series'
    start (aware, or a date for an all-day series, whose values are dates and pass unchanged)."""
    # In UTC: PEP 495 makes the second of a repeated hour unequal to every time on another zone.
    names_dtstart = (
        isinstance(value, datetime)
        and isinstance(dtstart, datetime)
        and value.tzinfo is not None
        and dtstart.tzinfo is not None
        and value.astimezone(UTC) == dtstart.astimezone(UTC)
    )
    return outgoing(value, zone, repeats=names_dtstart)


def outgoing_span(
    start: datetime | date, end: datetime | date, zone: tzinfo, *, repeats: bool = False
) -> tuple[datetime | date, datetime | date]:
    """DTSTART and DTEND as `outgoing` writes them, except that when either is in UTC form (its
    wall clock is the second of two) so is the other, unless `repeats` (a series' master keeps
    DTSTART on its zone). Why both: readers such as recurring-ical-events take the length as
    DTEND - DTSTART and add it on DTSTART's wall clock, so a zoned 01:30+02:00 with a UTC end two
    hours later reads as three real hours on the autumn night."""
    first, last = outgoing(start, zone, repeats=repeats), outgoing(end, zone)
    in_utc = isinstance(first, datetime) and isinstance(last, datetime) and UTC in (first.tzinfo, last.tzinfo)
    if in_utc and not repeats:
        return first.astimezone(UTC), last.astimezone(UTC)
    return first, last


def as_read_on_wall_clock(value: datetime, zone: tzinfo) -> datetime:
    """The instant a reader takes `value` (aware) for once it is written on `zone`'s wall clock
    with a TZID: the first of two equal wall-clock times (RFC 5545 3.3.5), so the second 02:30 of
    an autumn night reads as the first. A series' DTSTART is written so (`outgoing(repeats=True)`):
    whether its rule gives DTSTART is judged on this instant, never on the stored one. In UTC:
    PEP 495 makes an ambiguous time unequal to every time on another zone, the same instant too."""
    return value.astimezone(zone).replace(fold=0).astimezone(UTC)


def series_start(start: datetime, end: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """A new series' first start and end (aware) as its rule repeats them on `zone`'s wall clock:
    a start that is the second of two equal wall-clock times (the repeated autumn hour, PEP 495
    fold=1) becomes the first, the end moving with it (same exact length). Its DTSTART is written
    on the wall clock, which RFC 5545 3.3.5 reads as the first, and every later day of the rule
    has fold=0; kept as given, the series named an instant no reader and none of its own
    occurrences showed (review 7 F4). Returned in UTC when changed, else as given."""
    local = start.astimezone(zone)
    if not is_second_of_two(local):
        return start, end
    # In UTC: two aware times on one zone compare on the wall clock (PEP 495), so 02:30 to the
    # second 02:30 would read as no length at all.
    first = local.replace(fold=0).astimezone(UTC)
    return first, first + exact_length(start, end)


def is_second_of_two(value: datetime) -> bool:
    """Is the aware `value` the later of two instants its zone's wall clock shows the same
    (PEP 495 fold=1 where the offset really differs)?"""
    return value.fold == 1 and value.utcoffset() != value.replace(fold=0).utcoffset()


def zone_or(name: str | None, default: ZoneInfo) -> ZoneInfo:
    """The IANA zone of a stored name, or `default` for an empty or unknown one."""
    try:
        return ZoneInfo(canonical_zone_name(str(name))) if name else default
    except (ZoneInfoNotFoundError, ValueError):
        return zone_named(name) or default


def starts_in_span(
    start: datetime, rrules: Sequence[str], *, first: datetime, last: datetime, limit: int, year: timedelta
) -> int:
    """How many starts `rrules` (from `start`, as `rule_starts` takes them) give from `first` to
    `last` (both included): the span of a series the helpdesk keeps as occurrences
    (`calendars.services.kept_span`, the one definition); at most `limit + 1` are counted.
    `start`, `first` and `last` on one footing (all naive on the series' wall clock, or all aware).

    However old the series, only that span counts: a daily stand-up begun in 2010 gives over 5,000
    starts up to now but 365 in the year kept. The cost is bounded first: the rules' first `year`
    from `start` is counted, and one denser than `limit` there is answered at once with that count
    (at most `limit + 1` steps; a rule repeats no denser later, RFC 5545 3.3.10 rules are periodic
    within a year, so it would be refused in the span too unless it ended before it); otherwise the
    walk up to `first` of an old series costs at most about `limit` steps a year. Raises what
    `rule_starts` raises."""
    opening = rule_starts(start, rrules, until=start + year, limit=limit + 1)
    if len(opening) > limit:
        return len(opening)
    just_before = first - timedelta(microseconds=1)  # `rule_starts` counts after `after`: `first` is included
    return len(rule_starts(start, rrules, after=just_before, until=last, limit=limit + 1))


def rule_starts(
    start: datetime | date,
    rrules: Sequence[str],
    *,
    until: datetime | date,
    after: datetime | date | None = None,
    until_included: bool = True,
    limit: int | None = 1000,
) -> list[datetime | date]:
    """The starts a series' rules give, in order: the one walker of a recurrence rule up to a
    bound, for the helpdesk and every connector (expanded by dateutil).

    `rrules`: RRULE values (RFC 5545 3.3.10, with or without "RRULE:"), all counted from `start`,
    the series' DTSTART (RFC 5545 3.8.5.3: COUNT and INTERVAL run from it, and DTSTART itself
    counts only when the rule gives it); several rules give their union.

    Wall clock: a zoned `start` repeats on its own zone's wall clock (give it in the series' zone:
    09:00 Europe/Berlin stays 09:00 across a DST change); each start comes aware in that zone
    with fold=0, so a time a DST change skips or repeats is read with the offset before the
    change (RFC 5545 3.3.5). A date `start` gives dates (all-day), a naive one naive (floating)
    times; convert to UTC with the series' zone where an instant is wanted.

    Bounds: starts later than `after` (None: from `start` on) and not later than `until` (earlier
    than `until` with `until_included=False`), at most `limit` of them (None: no count limit,
    for a bound the caller knows to be near). An aware bound is an instant (compared as such
    with a zoned start; its own wall clock with a naive or date start, so give those bounds on
    the series' wall clock); a naive one is read on `start`'s wall clock, a date as its midnight.
    The rules are walked lazily: a walk costs the starts up to the bound or the limit.

    UNTIL may be written as a date, a local time or UTC (clients write all three; RFC 5545
    3.3.10 wants UTC with a zoned DTSTART): each is read on `start`'s wall clock, a date UNTIL
    on a timed series as that day's midnight (as dateutil and recurring-ical-events read it).
    Raises what dateutil raises for a rule it cannot read or walk (ValueError, TypeError,
    OverflowError)."""
    from dateutil.rrule import rruleset, rrulestr

    is_date = not isinstance(start, datetime)
    first = datetime(start.year, start.month, start.day) if is_date else start

    def footing(value: datetime | date) -> datetime:
        if not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if first.tzinfo is None:
            return value.replace(tzinfo=None)
        return value if value.tzinfo else value.replace(tzinfo=first.tzinfo)

    rules = rruleset()
    for rule in rrules:
        text = rule[6:] if rule.upper().startswith("RRULE:") else rule
        rules.rrule(rrulestr(_until_on_footing(text, first), dtstart=first, ignoretz=False))
    low = footing(after) if after is not None else None
    high = footing(until)
    out: list[datetime | date] = []
    for moment in rules:
        if moment > high or (moment == high and not until_included):
            break
        if low is not None and moment <= low:
            continue
        if limit is not None and len(out) >= limit:
            break
        out.append(moment.date() if is_date else moment.replace(fold=0))
    return out


def _until_on_footing(rule: str, first: datetime) -> str:
    """dateutil wants UNTIL in UTC with a zoned start and without a zone with a naive one;
    clients write all three forms (a date, a local time, UTC): RFC 5545 3.3.10."""
    parts = []
    for part in rule.split(";"):
        name, _, value = part.partition("=")
        if name.strip().upper() == "UNTIL":
            value = value.strip()
            if first.tzinfo is not None and not value.endswith("Z"):
                if "T" in value:
                    moment = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=first.tzinfo)
                else:
                    # A date UNTIL on a timed series (RFC 5545 3.3.10 wants DTSTART's type) is read as
                    # its midnight, as dateutil and recurring-ical-events read it, so the helpdesk
                    # gives the occurrences the technician's other calendar programs show (trial 11).
                    moment = datetime.strptime(value, "%Y%m%d").replace(tzinfo=first.tzinfo)
                value = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            elif first.tzinfo is None and value.endswith("Z"):
                value = value[:-1]
        parts.append(f"{name}={value}" if _ else part)
    return ";".join(parts)


def rule_in_utc(rule: str, zone: ZoneInfo, *, all_day: bool) -> str:
    """An RRULE as the helpdesk stores it: UNTIL in UTC (RFC 5545 3.3.10 for zoned starts); a
    date or local UNTIL is read on `zone`'s wall clock, a date as its midnight (`rule_starts`; an
    all-day series' occurrence on that day starts then, so it is kept)."""
    probe = datetime(2000, 1, 1, tzinfo=zone)
    return _until_on_footing(rule, probe)


def rule_for_dates(rule: str, zone: ZoneInfo) -> str:
    """An RRULE of an all-day series as written out: UNTIL as a DATE (RFC 5545 3.3.10 wants the
    same value type as DTSTART), the day it falls on in `zone`."""
    parts = []
    for part in rule.split(";"):
        name, _, value = part.partition("=")
        if name.strip().upper() == "UNTIL" and value.strip().endswith("Z"):
            moment = datetime.strptime(value.strip(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            value = moment.astimezone(zone).strftime("%Y%m%d")
        parts.append(f"{name}={value}" if _ else part)
    return ";".join(parts)


def same_day_or_instant(key: datetime | date, original: datetime, zone: tzinfo) -> bool:
    """Does an exception's key (RECURRENCE-ID or EXDATE, as DATE or DATE-TIME, UTC or zoned)
    name the occurrence that starts at `original`? A date names the occurrence on that day of
    `zone`'s calendar (clients mix value types; RFC 5545 3.8.5.1 wants DTSTART's)."""
    if isinstance(key, datetime):
        return key == original
    return original.astimezone(zone).date() == key


def same_value(a: datetime | date | None, b: datetime | date | None, zone: tzinfo) -> bool:
    """Do two values name the same day or the same moment (a floating time read on `zone`'s wall
    clock)? For a merge that must not rewrite a time a client wrote in a form of its own
    (floating, a Windows zone, UTC) when the helpdesk did not change it."""
    if isinstance(a, datetime) != isinstance(b, datetime):
        return False
    if not isinstance(a, datetime):
        return a == b
    a = on_wall_clock(a, zone) if a.tzinfo is None else a
    b = on_wall_clock(b, zone) if b.tzinfo is None else b
    # As instants: Python compares two times of one zone by wall clock, and never calls a time in a
    # gap or fold equal to one of another zone (PEP 495), so a spring-gap 02:30 and the 03:30 it
    # names would differ and be rewritten.
    return a.astimezone(UTC) == b.astimezone(UTC)


def rounded_on_wall_clock(moment: datetime, *, minutes: int) -> datetime:
    """`moment` (aware) on the current zone's wall clock (the signed-in user's, which pages
    activate), cut to the whole `minutes` before it: 09:07 -> 09:05 (minutes=5). For a form's
    default time, so the arithmetic is on the wall clock (the next whole hour: `next_whole_hour`).
    Returns an aware datetime in the current zone."""
    from django.utils import timezone

    local = timezone.localtime(moment)
    since_midnight = local.hour * 60 + local.minute
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(minutes=since_midnight - since_midnight % minutes)


def zone_label(zone: tzinfo) -> str:
    """A series' zone as pages and the API name it: an IANA key ("Europe/Amsterdam"), or the TZID
    of the VTIMEZONE block it was built from ("Customized Time Zone")."""
    for attribute in ("key", "_tzid"):
        name = getattr(zone, attribute, None)
        if name:
            return str(name)
    return str(zone)
