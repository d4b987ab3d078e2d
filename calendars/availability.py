"""Who is free, and when: the free slots of technicians for a piece of work.

The computation is pure (plain data in, plain data out) so it can be checked against worked
cases without a database; `find_slots_for` in this module reads the rows it needs through
`calendars.selectors.availability_rows` (a fixed number of queries) and then calls it.

All instants are aware datetimes; results are in UTC. Working hours are wall-clock times on
each technician's own zone (so 08:00 stays 08:00 across a change to or from daylight saving
time), public holidays come from python-holidays for the technician's country and region.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo

import holidays

Interval = tuple[datetime, datetime]

# Technicians one availability or working-hours query may name (the API's cap); a page of more
# asks in batches of this many, each a fixed number of queries.
MAX_TECHNICIANS = 200

# The longest travel buffer (each side of a busy block) and minimum notice anyone may ask for,
# on the API and the request page alike.
MAX_BUFFER = timedelta(days=1)
MAX_NOTICE = timedelta(days=60)


class Mode(StrEnum):
    TOGETHER = "together"  # every chosen technician free at once (one appointment for several)
    ANY = "any"  # any one of them: each slot lists who is free then, fairest first


@dataclass(frozen=True)
class Technician:
    """What availability needs of a technician: zone, working week, holiday calendar.

    `working_days` are weekday numbers (0 = Monday); `start`/`end` are wall-clock times on
    `zone`; `country`/`region` are python-holidays codes (ISO 3166-1 / ISO 3166-2 subdivision).
    """

    id: int
    name: str
    zone: ZoneInfo
    working_days: tuple[int, ...]
    start: time
    end: time
    country: str = ""
    region: str = ""


@dataclass(frozen=True)
class Busy:
    """A block of a technician's time that is taken.

    `booked` marks helpdesk work (it counts towards the hours booked that week, for fair
    ordering); imported external busy time is busy but not booked. `transparent` ("show as
    free", RFC 5545 TRANSP:TRANSPARENT) blocks are ignored.
    """

    agent_id: int
    start: datetime
    end: datetime
    booked: bool = True
    transparent: bool = False


@dataclass(frozen=True)
class Options:
    """`duration` of the work; `buffer` kept free before and after every busy block (travel);
    `notice`: the earliest start is `now + notice`; starts fall on `period start + k * step`;
    at most `limit` slots are returned; `rebooking`: the request whose booking is replaced."""

    duration: timedelta
    mode: Mode = Mode.TOGETHER
    buffer: timedelta = timedelta(0)
    notice: timedelta = timedelta(0)
    step: timedelta = timedelta(minutes=30)
    limit: int = 50
    # A request being booked again: its current booking, which the new one replaces, is not busy
    # (calendars.selectors.busy_rows).
    rebooking: int | None = None


@dataclass(frozen=True)
class Slot:
    """A free slot (UTC) with the technicians free for all of it; in "any" mode those are in
    fair order (fewest hours booked in the slot's week first)."""

    start: datetime
    end: datetime
    agent_ids: tuple[int, ...]
    booked_hours: dict[int, float] = field(default_factory=dict, compare=False)


# --- holidays -----------------------------------------------------------------------------


def check_holiday_region(country: str, region: str) -> dict[str, str] | None:
    """None when python-holidays knows the country (and region), else field messages."""
    if not country:
        return {"holiday_region": "Give the country of the region."} if region else None
    supported = holidays.list_supported_countries()
    if country.upper() not in supported:
        return {"holiday_country": f"No public holidays are known for country {country!r}; use an ISO code."}
    if region and region not in supported[country.upper()]:
        choices = ", ".join(supported[country.upper()])
        return {"holiday_region": f"Unknown region {region!r} of {country.upper()}; choose one of: {choices}."}
    return None


@cache
def _holiday_calendar(country: str, region: str, year: int) -> dict[date, str]:
    if not country:
        return {}
    return dict(holidays.country_holidays(country.upper(), subdiv=region or None, years=year))


def holidays_between(country: str, region: str, first: date, last: date) -> dict[date, str]:
    """Public holidays of a country (and region; python-holidays codes) from `first` to `last`
    (inclusive): {day: name}; none without a country."""
    found = {}
    for year in range(first.year, last.year + 1):
        for day, name in _holiday_calendar(country, region, year).items():
            if first <= day <= last:
                found[day] = name
    return found


# --- intervals ----------------------------------------------------------------------------


def crosses_midnight(start: time, end: time) -> bool:
    """Working hours that end at or before they start run into the next day (a night shift,
    22:00-06:00; 00:00 as the end is the midnight after the start)."""
    return end <= start


def working_intervals(technician: Technician, start: datetime, end: datetime) -> list[Interval]:
    """The technician's working hours within [start, end), in UTC, holidays left out.

    Each working day's hours are read on the technician's wall clock for that date, so the UTC
    times move by an hour across a DST change in that zone and not in another. Hours that cross
    midnight (`crosses_midnight`) end on the next day's clock: a Friday 22:00-06:00 shift is
    Friday 22:00 to Saturday 06:00, and belongs to Friday (its working day and holiday)."""
    first = start.astimezone(technician.zone).date() - timedelta(days=1)  # a night shift may reach in
    last = end.astimezone(technician.zone).date()
    days_off = holidays_between(technician.country, technician.region, first, last)
    overnight = timedelta(days=1) if crosses_midnight(technician.start, technician.end) else timedelta(0)
    intervals = []
    day = first
    while day <= last:
        if day.weekday() in technician.working_days and day not in days_off:
            begin = datetime.combine(day, technician.start, tzinfo=technician.zone).astimezone(UTC)
            finish = datetime.combine(day + overnight, technician.end, tzinfo=technician.zone).astimezone(UTC)
            begin, finish = max(begin, start), min(finish, end)
            if begin < finish:
                intervals.append((begin, finish))
        day += timedelta(days=1)
    return intervals


def outside_working_time(technician: Technician, start: datetime, end: datetime) -> list[Interval]:
    """The parts of [start, end) (aware) outside the technician's working hours, in UTC: hours
    before or after the working day, days that are not working days, public holidays (the hours
    `working_intervals` gives, on the technician's own wall clock). Empty when it all falls inside."""
    return _subtract([(start.astimezone(UTC), end.astimezone(UTC))], working_intervals(technician, start, end))


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for begin, finish in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def _subtract(free: list[Interval], taken: list[Interval]) -> list[Interval]:
    """`free` minus `taken`; both sorted, `taken` merged."""
    result = []
    for begin, finish in free:
        cursor = begin
        for t_begin, t_end in taken:
            if t_end <= cursor or t_begin >= finish:
                continue
            if t_begin > cursor:
                result.append((cursor, t_begin))
            cursor = max(cursor, t_end)
            if cursor >= finish:
                break
        if cursor < finish:
            result.append((cursor, finish))
    return result


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    result, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        begin, finish = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if begin < finish:
            result.append((begin, finish))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return result


def free_intervals(
    technician: Technician, busy: Iterable[Busy], start: datetime, end: datetime, buffer: timedelta = timedelta(0)
) -> list[Interval]:
    """Working hours within [start, end) minus the technician's busy blocks, each widened by
    `buffer` on both sides; transparent blocks do not count. UTC, sorted, disjoint."""
    taken = _merge(
        (block.start - buffer, block.end + buffer)
        for block in busy
        if block.agent_id == technician.id and not block.transparent
    )
    return _subtract(working_intervals(technician, start, end), taken)


def _week_of(moment: datetime, zone: ZoneInfo) -> Interval:
    """The ISO week (Monday 00:00 to Monday 00:00 on `zone`'s wall clock) holding `moment`."""
    day = moment.astimezone(zone).date()
    monday = day - timedelta(days=day.weekday())
    return (
        datetime.combine(monday, time(0), tzinfo=zone).astimezone(UTC),
        datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone).astimezone(UTC),
    )


def booked_hours(technician: Technician, busy: Iterable[Busy], week: Interval) -> float:
    """Hours of helpdesk work (not external busy time) booked for the technician in `week`."""
    seconds = 0.0
    for block in busy:
        if block.agent_id == technician.id and block.booked and not block.transparent:
            overlap = min(block.end, week[1]) - max(block.start, week[0])
            seconds += max(overlap.total_seconds(), 0)
    return seconds / 3600


def _check(options: Options) -> None:
    if options.duration <= timedelta(0) or options.step <= timedelta(0):
        raise ValueError("The duration and the step must be longer than zero.")


def _free_of(
    technicians: Sequence[Technician], busy: Iterable[Busy], period: Interval, options: Options, now: datetime
) -> tuple[datetime, dict[int, list[Busy]], dict[int, list[Interval]]]:
    """(earliest start, busy blocks by technician, free intervals by technician) within `period`
    (UTC) for `find_slots` and `find_split`; raises ValueError for a duration or step that is not
    positive."""
    _check(options)
    earliest = max(period[0], (now + options.notice).astimezone(UTC))
    by_agent: dict[int, list[Busy]] = {}
    for block in busy:
        by_agent.setdefault(block.agent_id, []).append(block)
    free = {tech.id: free_intervals(tech, by_agent.get(tech.id, ()), *period, options.buffer) for tech in technicians}
    return earliest, by_agent, free


def _common(technicians: Sequence[Technician], intervals: dict[int, list[Interval]]) -> list[Interval]:
    """The intervals every technician has at once."""
    common = intervals[technicians[0].id]
    for tech in technicians[1:]:
        common = _intersect(common, intervals[tech.id])
    return common


def _on_grid(moment: datetime, origin: datetime, step: timedelta) -> datetime:
    """The first start on the grid `origin + k * step` at or after `moment`."""
    offset = (moment - origin) % step
    return moment if not offset else moment + (step - offset)


def _candidates(free: list[Interval], origin: datetime, options: Options, earliest: datetime) -> Iterable[datetime]:
    """Starts on the step grid from `origin` at which `duration` fits inside one free interval."""
    for begin, finish in free:
        moment = _on_grid(max(begin, earliest), origin, options.step)
        while moment + options.duration <= finish:
            yield moment
            moment += options.step


def find_slots(
    technicians: Sequence[Technician],
    busy: Sequence[Busy],
    *,
    start: datetime,
    end: datetime,
    options: Options,
    now: datetime,
) -> list[Slot]:
    """The earliest free slots in [start, end) for `options.duration`, at most `options.limit`.

    TOGETHER: slots where every technician is free at once (agent_ids: all of them).
    ANY: slots where at least one is free; agent_ids are those free, ordered by hours booked in
    that slot's week on their own wall clock (fewest first), then by name. `busy` should cover
    the whole weeks around the period for the ordering to count every booked hour.
    Raises ValueError for a duration or step that is not positive.
    """
    if not technicians:
        _check(options)
        return []
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    earliest, by_agent, free = _free_of(technicians, busy, (start, end), options, now)
    slots: list[Slot] = []
    if options.mode == Mode.TOGETHER:
        common = _common(technicians, free)
        ids = tuple(tech.id for tech in technicians)
        for moment in _candidates(common, start, options, earliest):
            slots.append(Slot(moment, moment + options.duration, ids))
            if len(slots) >= options.limit:
                break
        return slots
    by_start: dict[datetime, list[Technician]] = {}
    for tech in technicians:
        for moment in _candidates(free[tech.id], start, options, earliest):
            by_start.setdefault(moment, []).append(tech)
    weekly: dict[tuple[int, datetime], float] = {}  # (technician, week start) -> booked hours

    def hours_of(tech: Technician, moment: datetime) -> float:
        week = _week_of(moment, tech.zone)
        if (tech.id, week[0]) not in weekly:
            weekly[tech.id, week[0]] = booked_hours(tech, by_agent.get(tech.id, ()), week)
        return weekly[tech.id, week[0]]

    for moment in sorted(by_start)[: options.limit]:
        hours = {tech.id: hours_of(tech, moment) for tech in by_start[moment]}
        ordered = sorted(by_start[moment], key=lambda tech: (hours[tech.id], tech.name, tech.id))
        slots.append(Slot(moment, moment + options.duration, tuple(t.id for t in ordered), hours))
    return slots


def fetch_window(start: datetime, end: datetime) -> Interval:
    """The span whose busy rows `find_slots` needs: the period widened to whole weeks in any
    zone (a day more each side covers every UTC offset), for the fair ordering."""
    first = start.astimezone(UTC).date()
    last = end.astimezone(UTC).date()
    monday = first - timedelta(days=first.weekday() + 1)
    sunday = last + timedelta(days=7 - last.weekday() + 1)
    return datetime.combine(monday, time(0), tzinfo=UTC), datetime.combine(sunday, time(0), tzinfo=UTC)


def find_slots_for(
    agents: Sequence,
    *,
    start: datetime,
    end: datetime,
    options: Options,
    now: datetime,
    settings=None,
) -> list[Slot]:
    """`find_slots` for Agent rows: reads their working hours and busy time (a fixed number of
    queries, see `calendars.selectors.availability_rows`)."""
    from calendars.selectors import availability_rows

    technicians, busy = availability_rows(agents, *fetch_window(start, end), settings=settings)
    return find_slots(technicians, busy, start=start, end=end, options=options, now=now)


# "Find a slot" looks this far first (the common case: a free slot within two weeks, one busy
# query), then twice as far each time until it has its slots or reaches the horizon.
FIRST_SEARCH = timedelta(days=14)


@dataclass(frozen=True)
class Search:
    """What a far search found: at most `options.limit` earliest `slots`, and the period it
    looked in, [`start`, `end`) (UTC): when it found fewer, nothing else is free before `end`."""

    slots: list[Slot]
    start: datetime
    end: datetime


def search_horizon(settings, now: datetime) -> datetime:
    """How far "Find a slot" looks from `now`: as far as the technicians' calendars are known,
    the import window's future (`CalendarSettings.import_days_future`, 365 days by default;
    beyond it imported busy time is not read), and never less than the first 14 days. On the
    whole minute: it is shown to the user and answered by the API as the end of the search."""
    return (now + max(timedelta(days=settings.import_days_future), FIRST_SEARCH)).replace(second=0, microsecond=0)


def _widening_search(
    agents: Sequence, *, start: datetime, horizon: datetime, settings, attempt, rebooking: int | None = None
) -> Search:
    """The widening loop of `search_slots_for` and `search_split_for`: [start, start + 14 days)
    first, then twice as far each round until `attempt(technicians, busy, end)` answers
    (found, done) with done true or `horizon` is reached; one busy query a round, each busy row
    read once. `found` of the last round is the Search's `slots`."""
    from calendars.models import CalendarSettings
    from calendars.selectors import busy_of, technicians_of

    start, horizon = start.astimezone(UTC), max(horizon.astimezone(UTC), start.astimezone(UTC))
    settings = settings or CalendarSettings.load()
    technicians = technicians_of(agents, settings=settings)
    busy: list[Busy] = []
    read_until = None
    span = FIRST_SEARCH
    while True:
        end = min(start + span, horizon)
        window = fetch_window(start, end)
        if technicians:
            # Each block is read once: a later round reads only those beginning in its new part.
            busy += busy_of(technicians, *window, beginning_from=read_until, rebooking=rebooking)
            read_until = window[1]
        found, done = attempt(technicians, busy, end)
        if done or end >= horizon:
            return Search(found, start, end)
        span *= 2


def search_slots_for(
    agents: Sequence,
    *,
    start: datetime,
    horizon: datetime,
    options: Options,
    now: datetime,
    settings=None,
) -> Search:
    """The earliest `options.limit` free slots from `start` up to `horizon` (aware instants), for
    Agent rows, as `find_slots` finds them over the whole period.

    A busy team may have nothing free for months, and a year of everyone's busy rows is a lot to
    read for the usual answer within days: so it searches [start, start + 14 days) first and
    doubles the period until it has `options.limit` slots or reaches `horizon`. Each round is one
    query for the busy rows it has not read yet (plus one for the settings when not given),
    whatever the number of technicians: at most 2 + log2(horizon / 14 days) queries (7 for a
    year), each busy row read once. A period that only
    grows keeps every slot found earlier and the step grid of `start`, so the slots are those of
    one search over [start, end). Raises ValueError as `find_slots` does."""
    start = start.astimezone(UTC)

    def attempt(technicians, busy, end):
        slots = find_slots(technicians, busy, start=start, end=end, options=options, now=now)
        return slots, len(slots) >= options.limit

    return _widening_search(
        agents, start=start, horizon=horizon, settings=settings, attempt=attempt, rebooking=options.rebooking
    )


def _half_day(moment: datetime, zone: ZoneInfo) -> tuple[date, bool]:
    """(day, afternoon?) of `moment` on `zone`'s wall clock; the afternoon starts at 12:00."""
    local = moment.astimezone(zone)
    return local.date(), local.hour >= 12


def spread_slots(slots: Sequence[Slot], *, count: int, zone: ZoneInfo, by_technician: bool) -> list[Slot]:
    """At most `count` of `slots` (earliest first, as `find_slots` gives them) chosen to be a
    spread of choices rather than the first `count` starts 30 minutes apart, as dispatch tools
    offer one time per technician per arrival window. A half-day is a morning (before 12:00) or
    an afternoon on `zone`'s wall clock (the reader's).

    1. Walk the slots earliest first and take one when no slot taken so far offers the same
       technician in the same half-day. With `by_technician` ("any" mode, the first technician
       of a slot is the one booked) the slot is taken for the first of its technicians (in its
       fair order) not yet offered in that half-day, who is moved to the front: one morning of
       a team may offer Alice at 08:00, Bob at 08:30 and Carol at 09:00, then the afternoon
       Alice again. Without (all technicians together) a half-day holds one slot: Monday 08:00,
       Monday 12:00, Tuesday 08:00...
    2. Fewer than `count` that way: the earliest slots not yet taken fill the rest, so nothing
       that is free is withheld.

    Returns the chosen slots in time order (then in the order they were taken)."""
    taken: list[Slot] = []
    offered: set[tuple[int, date, bool]] = set()
    for slot in slots:
        if len(taken) >= count:
            break
        day, afternoon = _half_day(slot.start, zone)
        ids = slot.agent_ids if by_technician else slot.agent_ids[:1]
        fresh = next((i for i in ids if (i, day, afternoon) not in offered), None)
        if fresh is None:
            continue
        offered.add((fresh, day, afternoon))
        if by_technician:
            slot = replace(slot, agent_ids=(fresh, *(i for i in slot.agent_ids if i != fresh)))
        taken.append(slot)
    starts_taken = {(slot.start, slot.agent_ids[0]) for slot in taken}
    for slot in slots:
        if len(taken) >= count:
            break
        if (slot.start, slot.agent_ids[0]) not in starts_taken:
            taken.append(slot)
    return sorted(taken, key=lambda slot: slot.start)


# --- work longer than a working day: split over consecutive working days -------------------

# The shortest part a split proposes: less is not worth a trip.
MIN_PART = timedelta(hours=1)
# The most parts one booking makes: each is an appointment pushed to every technician's external
# calendars, so one request must not make thousands (an estimate may be a year long).
MAX_PARTS = 100


@dataclass(frozen=True)
class Split:
    """Work longer than any working day, proposed in parts: `parts` are (start, end) in UTC, one
    or more a day on consecutive working days of `agent_ids` (all of them at once in "together"
    mode, the one technician in "any" mode), adding up to the duration asked for, each at least
    the minimum part. `booked_hours` as in Slot."""

    parts: tuple[Interval, ...]
    agent_ids: tuple[int, ...]
    booked_hours: dict[int, float] = field(default_factory=dict, compare=False)

    @property
    def start(self) -> datetime:
        return self.parts[0][0]

    @property
    def end(self) -> datetime:
        return self.parts[-1][1]


def longest_working_day(technicians: Sequence[Technician], mode: Mode, start: datetime) -> timedelta:
    """The longest stretch of working time on one day, over the two weeks from `start`: any one
    technician's ("any" mode) or all of them at once ("together"). Work longer than this fits in
    no single slot. Public holidays do not count (a fortnight off is no shorter working day);
    zero with nobody."""
    end = start + FIRST_SEARCH
    hours = [working_intervals(replace(tech, country="", region=""), start, end) for tech in technicians]
    if not hours:
        return timedelta(0)
    if mode == Mode.TOGETHER:
        hours = [_common(technicians, dict(zip((tech.id for tech in technicians), hours, strict=True)))]
    return max((finish - begin for intervals in hours for begin, finish in intervals), default=timedelta(0))


def _working_days(intervals: list[Interval], zone: ZoneInfo) -> list[date]:
    """The days (on `zone`'s calendar) that hold working time, in order, each once."""
    return sorted({begin.astimezone(zone).date() for begin, _ in intervals})


def _parts_from(
    days: list[date], usable: dict[date, list[Interval]], first: int, duration: timedelta, least: timedelta
) -> list[Interval] | None:
    """Free blocks from `days[first]` on, every block of each consecutive working day in turn,
    until they add up to `duration`; None when a working day on the way has none, or when it
    would take more than MAX_PARTS blocks (book-split refuses more). A block is cut short where
    the work is done, or where what would be left is shorter than `least` (so the last part is
    never a scrap)."""
    parts: list[Interval] = []
    left = duration
    for day in days[first:]:
        taken = 0
        for begin, finish in usable.get(day, ()):
            if len(parts) == MAX_PARTS:
                return None
            length = finish - begin
            if length >= left:
                take = left
            elif left - length >= least:
                take = length
            elif left - least >= least:
                take = left - least  # leave exactly the least for the next block
            else:
                continue  # left cannot be cut in two: a longer block must take it whole
            parts.append((begin, begin + take))
            taken += 1
            left -= take
            if not left:
                return parts
        if not taken:
            return None
    return None


def split_work(
    free: list[Interval],
    working: list[Interval],
    zone: ZoneInfo,
    *,
    earliest: datetime,
    origin: datetime,
    options: Options,
) -> tuple[Interval, ...] | None:
    """The earliest parts for `options.duration` in `free` (UTC, sorted, disjoint), on consecutive
    working days: days with `working` time on `zone`'s calendar (holidays and days off are not
    working days, so they do not break the run). Parts start on the step grid from `origin`, not
    before `earliest`, last at least MIN_PART and are at most MAX_PARTS. None when no run fits."""
    least = MIN_PART
    usable: dict[date, list[Interval]] = {}
    for begin, finish in free:
        begin = _on_grid(max(begin, earliest), origin, options.step)
        if finish - begin >= least:
            usable.setdefault(begin.astimezone(zone).date(), []).append((begin, finish))
    days = _working_days(working, zone)
    for first, day in enumerate(days):
        if day not in usable:
            continue
        parts = _parts_from(days, usable, first, options.duration, least)
        if parts:
            return tuple(parts)
    return None


def find_split(
    technicians: Sequence[Technician], busy: Sequence[Busy], *, period: Interval, options: Options, now: datetime
) -> Split | None:
    """Work of `options.duration` in parts within `period`, [start, end): TOGETHER, the earliest parts when
    all technicians are free at once, on consecutive days that are working days for all of them
    (on the first technician's calendar); ANY, each technician's earliest parts, and of those the
    one that starts first (then ends first, then fewest hours booked that week, then by name).
    None when nothing fits. Raises ValueError as `find_slots` does."""
    if not technicians:
        _check(options)
        return None
    start, end = period[0].astimezone(UTC), period[1].astimezone(UTC)
    earliest, by_agent, free = _free_of(technicians, busy, (start, end), options, now)
    working = {tech.id: working_intervals(tech, start, end) for tech in technicians}
    if options.mode == Mode.TOGETHER:
        common, common_working = _common(technicians, free), _common(technicians, working)
        parts = split_work(
            common, common_working, technicians[0].zone, earliest=earliest, origin=start, options=options
        )
        return Split(parts, tuple(tech.id for tech in technicians)) if parts else None
    found = []
    for tech in technicians:
        parts = split_work(free[tech.id], working[tech.id], tech.zone, earliest=earliest, origin=start, options=options)
        if parts:
            hours = booked_hours(tech, by_agent.get(tech.id, ()), _week_of(parts[0][0], tech.zone))
            found.append((parts[0][0], parts[-1][1], hours, tech.name, tech.id, parts))
    if not found:
        return None
    _, _, hours, _, agent_id, parts = min(found)
    return Split(parts, (agent_id,), {agent_id: hours})


def search_split_for(
    agents: Sequence, *, period: Interval, options: Options, now: datetime, settings=None
) -> tuple[Split | None, datetime]:
    """`find_split` for Agent rows within `period`, from its start up to the horizon at its end
    (aware instants): (the split or None, the end of the period searched, UTC). Widens as
    `search_slots_for` does, with the same bound on queries; a run of days found in a shorter
    period is the one a longer one finds."""
    start, horizon = period[0].astimezone(UTC), period[1]

    def attempt(technicians, busy, end):
        split = find_split(technicians, busy, period=(start, end), options=options, now=now)
        return [split] if split else [], split is not None

    search = _widening_search(
        agents, start=start, horizon=horizon, settings=settings, attempt=attempt, rebooking=options.rebooking
    )
    return (search.slots[0] if search.slots else None), search.end


def days_off(technician: Technician, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
    """The public holidays on the technician's working days that overlap [start, end), each as
    (midnight, next midnight, name): the whole day on the technician's own wall clock, in UTC,
    not clipped (a viewer in another zone sees it span parts of two of their days)."""
    first = start.astimezone(technician.zone).date()
    last = end.astimezone(technician.zone).date()
    found = []
    for day, name in sorted(holidays_between(technician.country, technician.region, first, last).items()):
        if day.weekday() not in technician.working_days:
            continue
        begin = datetime.combine(day, time(0), tzinfo=technician.zone).astimezone(UTC)
        finish = datetime.combine(day + timedelta(days=1), time(0), tzinfo=technician.zone).astimezone(UTC)
        if begin < end and finish > start:
            found.append((begin, finish, name))
    return found


def working_hours_for(agents: Sequence, *, start: datetime, end: datetime, settings=None) -> dict[int, list[Interval]]:
    """The working hours of Agent rows within [start, end): {agent id: [(start, end) UTC]}, on
    each technician's own wall clock and holidays left out (the same hours the free slots use;
    one query for the settings when not given)."""
    return {
        agent_id: hours
        for agent_id, (hours, _) in working_time_for(agents, start=start, end=end, settings=settings).items()
    }


def working_time_for(
    agents: Sequence, *, start: datetime, end: datetime, settings=None
) -> dict[int, tuple[list[Interval], list[tuple[datetime, datetime, str]]]]:
    """{agent id: (working hours, public holidays)} within [start, end) for Agent rows: what
    `working_hours_for` and `days_off` give, in UTC (one query for the settings when not given)."""
    from calendars.selectors import technicians_of

    return {
        tech.id: (working_intervals(tech, start, end), days_off(tech, start, end))
        for tech in technicians_of(agents, settings=settings)
    }
