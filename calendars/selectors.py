"""Reads used by pages, API, feed and sync."""

import json
import zoneinfo
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import recurrence as recurrence_lib
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet, Sum, TextField
from django.db.models.functions import MD5, Cast, Coalesce, Concat
from django.utils import timezone

from agents.models import Agent, AgentSyncPolicy
from calendars import times
from calendars.models import Appointment, CalendarSettings, Schedule, SyncPolicy
from helpdesk.moments import entry_span_text, hours_text, span_text
from tickets.models import Request


def effective_sync_policy(agent: Agent, settings: CalendarSettings | None = None) -> str:
    """Never, Always or Ask for this technician: the global policy, or the technician's own
    (Always unless chosen) when the global policy is "Use technician setting" (SPEC S3.3)."""
    settings = settings or CalendarSettings.load()
    if settings.sync_policy != SyncPolicy.TECHNICIAN:
        return settings.sync_policy
    return agent.sync_policy


def sync_policy_explained(agent: Agent, settings: CalendarSettings | None = None) -> str:
    """What applies to this technician and why, for their admin page and their own page:
    "Ask (this technician's own setting; the global setting lets technicians choose)" or
    "Always (the global setting; this technician's own, Never, does not count)"."""
    settings = settings or CalendarSettings.load()
    effective = SyncPolicy(effective_sync_policy(agent, settings)).label
    if settings.sync_policy == SyncPolicy.TECHNICIAN:
        return f"{effective} (this technician's own setting; the global setting lets technicians choose)"
    own = AgentSyncPolicy(agent.sync_policy).label
    if own == effective:
        return f"{effective} (the global setting)"
    return f"{effective} (the global setting; this technician's own, {own}, does not count)"


@dataclass(frozen=True)
class WorkingHours:
    days: tuple[int, ...]
    start: time
    end: time


def working_hours(agent: Agent, settings: CalendarSettings | None = None) -> WorkingHours:
    settings = settings or CalendarSettings.load()
    days = agent.working_days if agent.working_days else settings.working_days
    if agent.working_hours_start and agent.working_hours_end:
        return WorkingHours(tuple(days), agent.working_hours_start, agent.working_hours_end)
    return WorkingHours(tuple(days), settings.working_hours_start, settings.working_hours_end)


# --- subscription feeds (S3.12) --------------------------------------------------------------


def feed_window(settings: CalendarSettings, zone, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The feed's span, from midnight to midnight in `zone`, so it moves once a day."""
    today = timezone.localtime(now or timezone.now(), zone).date()
    start = datetime.combine(today - timedelta(days=settings.feed_days_past), time(0), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=settings.feed_days_future + 1), time(0), tzinfo=zone)
    return start, end


@dataclass
class FeedEntries:
    """What one feed shows."""

    singles: list[Appointment] = field(default_factory=list)
    series: list[Appointment] = field(default_factory=list)
    # Occurrences edited or cancelled on their own, by master id.
    exceptions: dict[int, list[Appointment]] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedQuerysets:
    singles: QuerySet
    series: QuerySet
    exceptions: QuerySet


def _feed_querysets(agent_ids: list[int], start: datetime, end: datetime, include_external: bool) -> FeedQuerysets:
    """One-off entries overlapping the window; series with an occurrence in it or later; and the
    occurrences of those series edited or cancelled on their own (all of them, so that the rule
    never brings back on the phone what was cancelled in the helpdesk)."""
    on_agents = Appointment.agents.through.objects.filter(agent_id__in=agent_ids).values("appointment_id")
    sources = Q() if include_external else ~Q(source=Appointment.Source.EXTERNAL)
    later_occurrences = Appointment.objects.filter(master=OuterRef("pk")).filter(
        Q(end__gt=start) | Q(original_start__gte=start)
    )
    series = Appointment.objects.filter(sources, schedule__isnull=False, pk__in=on_agents, start__lt=end).filter(
        Q(end__gt=start) | Q(Exists(later_occurrences))
    )
    singles = (
        Appointment.objects.visible()
        .overlapping(start, end)
        .filter(sources, pk__in=on_agents)
        .filter(Q(master__isnull=True) | ~Q(master__in=series.values("pk")))
    )
    exceptions = Appointment.objects.filter(master__in=series.values("pk"), is_modified=True)
    return FeedQuerysets(singles=singles, series=series, exceptions=exceptions)


@dataclass(frozen=True)
class FeedVersion:
    """Enough to tell whether a feed changed without building it: the newest change, the number
    of rows and the sum of their revision numbers (a deletion lowers the count)."""

    last_modified: datetime | None
    count: int
    sequences: int


def feed_version(agent_ids: list[int], start: datetime, end: datetime, *, include_external: bool) -> FeedVersion:
    """One query, whatever the size of the calendar."""
    querysets = _feed_querysets(agent_ids, start, end, include_external)
    totals = Appointment.objects.filter(
        Q(pk__in=querysets.singles.values("pk"))
        | Q(pk__in=querysets.series.values("pk"))
        | Q(pk__in=querysets.exceptions.values("pk"))
    ).aggregate(last_modified=Max("updated_at"), count=Count("pk"), sequences=Sum("sequence"))
    return FeedVersion(totals["last_modified"], totals["count"], totals["sequences"] or 0)


def feed_entries(
    agent_ids: list[int],
    start: datetime,
    end: datetime,
    *,
    include_external: bool,
    with_agents: bool = False,
    single_ids: list[int] | None = None,
    series_ids: list[int] | None = None,
) -> FeedEntries:
    """What a technician's or a team's feed shows, in a fixed number of queries (three, or six
    with the technicians named). With `single_ids` / `series_ids`, only those entries of the
    feed are loaded (the ones whose cached fragment is missing, see FeedIndex)."""
    querysets = _feed_querysets(agent_ids, start, end, include_external)
    on_feed = Appointment.agents.through.objects.filter(appointment_id=OuterRef("pk"), agent_id__in=agent_ids)
    singles = querysets.singles
    series = querysets.series.select_related("schedule")
    if single_ids is not None:
        singles = Appointment.objects.filter(pk__in=single_ids).order_by("start", "id")
    if series_ids is not None:
        series = Appointment.objects.filter(pk__in=series_ids).select_related("schedule").order_by("start", "id")
    if with_agents:
        agents = Prefetch("agents", queryset=Agent.objects.select_related("user"))
        singles, series = singles.prefetch_related(agents), series.prefetch_related(agents)
    exceptions = Appointment.objects.prefetch_related(agents) if with_agents else Appointment.objects.all()
    masters = querysets.series.values("pk") if series_ids is None else series_ids
    exceptions = exceptions.filter(master__in=masters, is_modified=True)
    if single_ids == []:
        singles = Appointment.objects.none()
    series = [] if series_ids == [] else list(series)
    by_master: dict[int, list[Appointment]] = {}
    if series:
        for occurrence in exceptions.annotate(on_feed=Exists(on_feed)):
            by_master.setdefault(occurrence.master_id, []).append(occurrence)
    return FeedEntries(singles=list(singles), series=series, exceptions=by_master)


@dataclass(frozen=True)
class FeedIndex:
    """What decides each feed entry's text, read as plain values (no model instances), to find
    its cached fragment: per one-off (id, revision), per series (id, revision), where a
    revision is every stored value the entry's VEVENTs are written from (a database digest of
    the row's columns, its sequence, and for a series its rule and edited occurrences)."""

    singles: list[tuple[int, tuple]]
    series: list[tuple[int, tuple]]


# Every column of an appointment its VEVENT is written from: hashed by the database into each
# entry's revision, so a fragment is found by what the row says, never by id and time alone
# (ids come back after a rollback, and clocks may stand still in tests).
_WRITTEN_COLUMNS = ("subject", "location", "note", "start", "end", "start_date", "end_date", "original_start")


def _row_digest() -> MD5:
    """A digest of the row's text and times (the rest of what is written, flags and numbers,
    is covered by updated_at and sequence, which every service write moves)."""
    # Few columns: SQLite's parser nests every pair of a CONCAT.
    return MD5(Concat(*(Cast(name, TextField()) for name in _WRITTEN_COLUMNS), output_field=TextField()))


def feed_index(
    agent_ids: list[int], start: datetime, end: datetime, *, include_external: bool, with_agents: bool = False
) -> FeedIndex:
    """The feed's entries in the order `feed_entries` gives them, each with its revision, in
    three queries (four with the technicians named), whatever the number of entries."""
    querysets = _feed_querysets(agent_ids, start, end, include_external)
    digest = _row_digest()
    singles = list(
        querysets.singles.order_by("start", "id")
        .annotate(digest=digest)
        .values_list("pk", "updated_at", "digest", "sequence")
    )
    series = list(
        querysets.series.order_by("start", "id")
        .annotate(digest=digest)
        .values_list(
            "pk",
            "updated_at",
            "digest",
            "sequence",
            "schedule__recurrence",
            "schedule__time_zone",
            "schedule__future_exceptions",
        )
    )
    on_feed = Appointment.agents.through.objects.filter(appointment_id=OuterRef("pk"), agent_id__in=agent_ids)
    exceptions: dict[int, list[tuple]] = {}
    rows = (
        querysets.exceptions.annotate(on_feed=Exists(on_feed), digest=digest)
        .order_by("pk")
        .values_list("master_id", "pk", "updated_at", "digest", "sequence", "on_feed")
    )
    for master_id, *revision in rows:
        exceptions.setdefault(master_id, []).append(tuple(revision))
    names: dict[int, list[str]] = {}
    if with_agents:
        # Technicians' names are written into a team feed's entries; a renamed technician is a
        # new text for every entry they are on.
        shown = (
            Q(pk__in=querysets.singles.values("pk"))
            | Q(pk__in=querysets.series.values("pk"))
            | Q(pk__in=querysets.exceptions.values("pk"))
        )
        through = Appointment.agents.through.objects.filter(
            appointment_id__in=Appointment.objects.filter(shown).values("pk")
        ).order_by("agent__user__first_name", "agent__user__last_name", "agent__user__username")
        for appointment_id, first, last, username in through.values_list(
            "appointment_id", "agent__user__first_name", "agent__user__last_name", "agent__user__username"
        ):
            names.setdefault(appointment_id, []).append(f"{first} {last} {username}")
    return FeedIndex(
        singles=[
            (pk, (updated, digest, sequence, tuple(names.get(pk, ())))) for pk, updated, digest, sequence in singles
        ],
        series=[
            (
                pk,
                (
                    updated,
                    digest,
                    sequence,
                    str(rule),
                    str(zone),
                    repr(future),
                    tuple((*revision, tuple(names.get(revision[0], ()))) for revision in exceptions.get(pk, ())),
                    tuple(names.get(pk, ())),
                ),
            )
            for pk, updated, digest, sequence, rule, zone, future in series
        ],
    )


def _calendar_filter(
    queryset: QuerySet,
    start: datetime | None,
    end: datetime | None,
    *,
    agents: list[int] | None = None,
    team: int | None = None,
    source: str | None = None,
    request: int | None = None,
    recurring_only: bool = False,
) -> QuerySet:
    queryset = queryset.visible()
    if start is not None:
        queryset = queryset.filter(end__gt=start)
    if end is not None:
        queryset = queryset.filter(start__lt=end)
    if agents:
        on_agents = Appointment.agents.through.objects.filter(agent__in=agents)
        queryset = queryset.filter(pk__in=on_agents.values("appointment"))
    if team:
        queryset = queryset.filter(
            pk__in=Appointment.agents.through.objects.filter(agent__teams=team).values("appointment")
        )
    if source:
        queryset = queryset.filter(source=source)
    if request:
        queryset = queryset.filter(request=request)
    if recurring_only:
        queryset = queryset.filter(master__isnull=False)
    return queryset.order_by("start", "id")


def calendar_appointments(
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    agents: list[int] | None = None,
    team: int | None = None,
    source: str | None = None,
    request: int | None = None,
    recurring_only: bool = False,
    base: QuerySet | None = None,
) -> QuerySet:
    """What a calendar or the API lists: visible entries, optionally in a window (aware
    datetimes: ending after `start`, starting before `end`), for some technicians or a team, of
    one source or request, or only occurrences of recurring series; `base` narrows the rows
    looked at (by default all appointments). A fixed number of queries whatever the number of
    technicians."""
    filters = {"agents": agents, "team": team, "source": source, "request": request, "recurring_only": recurring_only}
    queryset = _calendar_filter(Appointment.objects.all() if base is None else base, start, end, **filters)
    # Each row's edit checks (helpdesk.permissions) read its request's technicians and its
    # Action's: read with the rows, not once per row (review fault 8).
    return queryset.select_related("request", "action").prefetch_related(
        Prefetch("agents", queryset=Agent.objects.select_related("user")), "request__assigned_agents"
    )


# The columns an API item is made of (AppointmentSerializer's fields, as stored).
CALENDAR_COLUMNS = (
    "id",
    "subject",
    "note",
    "location",
    "start",
    "end",
    "all_day",
    "start_date",
    "end_date",
    "other_attendees",
    "source",
    "request_id",
    "part",
    "action_id",
    "action__agent_id",
    "private",
    "busy",
    "reminder_minutes",
    "no_reminder",
    "master_id",
    "is_cancelled",
    "sequence",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class CalendarRows:
    """Rows of appointments as plain dicts, and the colour of each technician on them (in the
    technicians' name order, the order of each row's "agent_ids")."""

    rows: list[dict]
    colours: dict[int, str]
    # The rows' sync targets (a series' master for its occurrences) as a subquery, for reads
    # keyed by them (integrations.selectors.external_calendar_states): the database joins them,
    # instead of thousands of ids sent back as parameters.
    sync_targets: QuerySet | None = None


def calendar_rows(start: datetime, end: datetime, **filters) -> CalendarRows:
    """The rows `calendar_appointments` gives (same `filters`: agents, team, source, request,
    recurring_only), as plain dicts of CALENDAR_COLUMNS plus
    "agent_ids" (a list, in the technicians' name order), in two queries whatever the number of
    rows or technicians: the appointments joined with their technicians, then the technicians'
    order and colours. No model instance is made (issue 14: the group calendar at the speed of
    `.values()`)."""
    queryset = _calendar_filter(Appointment.objects.all(), start, end, **filters)
    rows: list[dict] = []
    last_id = None
    # One row per (appointment, technician), in appointment order: a shared entry comes as
    # consecutive rows, folded here.
    # The attendees as the stored JSON text, decoded only when there are any: nearly every entry
    # has none, and decoding "[]" for each of thousands of rows was a tenth of the widget's time.
    attendees = CALENDAR_COLUMNS.index("other_attendees")
    columns = [Cast(name, TextField()) if name == "other_attendees" else name for name in CALENDAR_COLUMNS]
    for row in queryset.values_list(*columns, "agents__id"):
        if row[0] != last_id:
            values = dict(zip(CALENDAR_COLUMNS, row[:-1], strict=True))
            text = row[attendees]
            values["other_attendees"] = [] if text is None or text == "[]" else json.loads(text)
            rows.append(values | {"agent_ids": []})
            last_id = row[0]
        if row[-1] is not None:
            rows[-1]["agent_ids"].append(row[-1])
    agent_ids = {agent_id for row in rows for agent_id in row["agent_ids"]}
    targets = queryset.order_by().values_list(Coalesce("master_id", "id"))
    if not agent_ids:
        return CalendarRows(rows, {}, targets)
    colours = dict(Agent.objects.filter(pk__in=agent_ids).values_list("pk", "colour"))
    order = {pk: index for index, pk in enumerate(colours)}
    for row in rows:
        if len(row["agent_ids"]) > 1:
            row["agent_ids"].sort(key=order.__getitem__)
    return CalendarRows(rows, colours, targets)


def request_agent_ids(request_ids: set[int]) -> dict[int, frozenset[int]]:
    """The technicians each request is assigned to, in one query (none for no ids)."""
    if not request_ids:
        return {}
    through = Request.assigned_agents.through
    assigned: dict[int, set[int]] = {}
    pairs = through.objects.filter(request_id__in=request_ids).values_list("request_id", "agent_id")
    for request_id, agent_id in pairs:
        assigned.setdefault(request_id, set()).add(agent_id)
    return {request_id: frozenset(ids) for request_id, ids in assigned.items()}


def unknown_choices(*, agent_ids: list[int] | None = None, team: int | None = None) -> dict[str, str]:
    """What a query names that does not exist, as messages by parameter ("agent", "team"): a
    client can then tell a typo from "nobody free" (review fault 11). Two queries at most."""
    from agents.models import Team

    problems = {}
    if agent_ids:
        known = set(Agent.objects.filter(pk__in=agent_ids).values_list("pk", flat=True))
        missing = sorted(set(agent_ids) - known)
        if missing:
            problems["agent"] = "No technician with id " + ", ".join(map(str, missing)) + "."
    if team and not Team.objects.filter(pk=team).exists():
        problems["team"] = f"No team with id {team}."
    return problems


def team_size(team: int) -> int:
    """The number of active technicians in a team."""
    return Agent.teams.through.objects.filter(team=team, agent__is_active=True).count()


def calendar_agents(
    *, ids: list[int] | None = None, team: int | None = None, base: QuerySet[Agent] | None = None
) -> QuerySet[Agent]:
    """Technicians shown on a calendar (the resources of the group view): active ones, only
    `ids` or members of `team` when given, among `base` (by default all)."""
    queryset = (Agent.objects.all() if base is None else base).filter(is_active=True).select_related("user")
    if ids:
        queryset = queryset.filter(pk__in=ids)
    if team:
        queryset = queryset.filter(pk__in=Agent.teams.through.objects.filter(team=team).values("agent"))
    return queryset.prefetch_related("teams")


# --- availability and double bookings (issue 15) ----------------------------------------------


# An all-day entry's midnights are stored on one zone's clock; its days begin at most this much
# earlier or later on another technician's (UTC offsets run from -12:00 to +14:00).
ALL_DAY_SLACK = timedelta(hours=26)


def busy_rows(
    *, agent_ids: list[int], start: datetime, end: datetime, rebooking: int | None = None, all_day_slack: bool = False
) -> QuerySet:
    """(technician, appointment) rows of the busy entries overlapping [start, end): visible
    (no recurring masters, no cancelled occurrences) and shown as busy. One joined query.
    `rebooking`: a request whose current booking (its planned appointment and its later parts,
    which booking it again replaces: tickets.services) is left out. `all_day_slack`: all-day
    entries are taken within ALL_DAY_SLACK of [start, end) too, for a caller that reads their days
    on each technician's own clock (`day_span_of`): their stored midnights are one zone's."""
    near = Q(appointment__start__lt=end, appointment__end__gt=start)
    if all_day_slack:
        near |= Q(
            appointment__all_day=True,
            appointment__start__lt=end + ALL_DAY_SLACK,
            appointment__end__gt=start - ALL_DAY_SLACK,
        )
    rows = Appointment.agents.through.objects.filter(
        near,
        agent_id__in=agent_ids,
        appointment__busy=True,
        appointment__is_cancelled=False,
        appointment__schedule__isnull=True,
    )
    if rebooking is not None:
        booked = Q(appointment__source=Appointment.Source.PLANNED) | Q(appointment__part__isnull=False)
        rows = rows.exclude(Q(appointment__request_id=rebooking) & booked)
    return rows.order_by()


def technicians_of(agents, *, settings: CalendarSettings | None = None) -> list:
    """[calendars.availability.Technician] for `agents` (Agent rows): zone, working week and
    holiday calendar, as availability reads them; no query when `settings` is given."""
    from calendars.availability import Technician

    settings = settings or CalendarSettings.load()
    found = []
    for agent in agents:
        hours = working_hours(agent, settings)
        found.append(
            Technician(
                id=agent.pk,
                name=agent.name,
                zone=agent.zone,
                working_days=hours.days,
                start=hours.start,
                end=hours.end,
                country=agent.holiday_country,
                region=agent.holiday_region,
            )
        )
    return found


def availability_rows(agents, start: datetime, end: datetime, *, settings: CalendarSettings | None = None):
    """([Technician], [Busy]) for `agents` (Agent rows) between `start` and `end`: one query for
    the busy blocks, whatever the number of technicians or weeks (plus one for the settings
    when not given). Busy blocks are the visible entries shown as busy (recurring occurrences,
    private and imported entries included); transparent entries are left out here."""
    technicians = technicians_of(agents, settings=settings)
    return technicians, busy_of(technicians, start, end)


def busy_of(
    technicians,
    start: datetime,
    end: datetime,
    *,
    beginning_from: datetime | None = None,
    rebooking: int | None = None,
) -> list:
    """[calendars.availability.Busy] of these Technicians overlapping [start, end), in one query
    (see `availability_rows`); with `beginning_from`, only the blocks that begin then or later
    (a wider period's rest, when [start, beginning_from) was read already); `rebooking`: see
    `busy_rows`."""
    from calendars.availability import Busy

    zones = {tech.id: tech.zone for tech in technicians}
    rows = busy_rows(agent_ids=list(zones), start=start, end=end, rebooking=rebooking, all_day_slack=True)
    if beginning_from is not None:
        rows = rows.filter(
            Q(appointment__start__gte=beginning_from)
            | Q(appointment__all_day=True, appointment__start__gte=beginning_from - ALL_DAY_SLACK)
        )
    rows = rows.values_list(
        "agent_id",
        "appointment__start",
        "appointment__end",
        "appointment__source",
        "appointment__all_day",
        "appointment__start_date",
        "appointment__end_date",
    )
    found = []
    for agent_id, begin, finish, source, all_day, first, after in rows:
        if all_day:
            begin, finish = days_on_clock(first, after, begin, finish, zones[agent_id])
            if not (begin < end and finish > start) or (beginning_from is not None and begin < beginning_from):
                continue
        found.append(Busy(agent_id, begin, finish, booked=source != Appointment.Source.EXTERNAL))
    return found


@dataclass(frozen=True)
class Overlap:
    """Another entry in the way of a proposed time, described without private details."""

    appointment_id: int
    agent_id: int
    agent_name: str
    start: datetime
    end: datetime
    external: bool
    subject: str  # empty for imported and private entries
    # An all-day entry's (first day, day after the last): days, the same on every clock.
    days: tuple[date, date] | None = None

    def message(self, zone, *, dated: bool = False) -> str:
        """'overlaps Bob's 'Site visit' 10:00-11:00' or 'busy in Bob's external calendar
        10:00-11:00' (an en dash between the times), times on `zone`'s wall clock (the day is
        named when it is not one day, or when `dated`: the overlaps of a series fall on many days).
        An all-day entry is named by its days: "Wed 16 Dec 2026 (all day)" (trial fault 7)."""
        begin, finish = timezone.localtime(self.start, zone), timezone.localtime(self.end, zone)
        span = hours_text(begin, finish)
        if self.days:
            span = entry_span_text(self.start, self.end, zone, days=self.days)
        elif dated or begin.date() != finish.date():
            # With its day(s), in the pages' one format (helpdesk.moments).
            span = span_text(begin, finish, zone)
        if self.external:
            return f"busy in {self.agent_name}'s external calendar {span}"
        if not self.subject:
            return f"overlaps {self.agent_name}'s private appointment {span}"
        return f"overlaps {self.agent_name}'s '{self.subject}' {span}"


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _weekdays(days: tuple[int, ...]) -> str:
    """(0, 1, 2, 3, 4) -> 'Mon-Fri' (an en dash); (0, 2, 4) -> 'Mon, Wed, Fri'; () -> 'no day'."""
    days = tuple(sorted(set(days)))
    if not days:
        return "no day"
    if len(days) > 2 and days == tuple(range(days[0], days[-1] + 1)):
        return f"{WEEKDAYS[days[0]]}–{WEEKDAYS[days[-1]]}"
    return ", ".join(WEEKDAYS[day] for day in days)


@dataclass(frozen=True)
class OutsideHours:
    """A proposed time that falls, in part or whole, outside a technician's working hours (SPEC
    S2.4: working days, working hours, public holidays): named like an Overlap, and asked about
    before saving in the same way (S6.3)."""

    agent_id: int
    agent_name: str
    # The parts outside working hours, UTC, in order.
    spans: tuple[tuple[datetime, datetime], ...]
    # The technician's working week as they keep it: "Mon-Fri 08:00-17:00 Europe/Amsterdam" (en dashes).
    working_hours: str
    # Public holidays among the days outside: "Christmas Day".
    holidays: tuple[str, ...] = ()
    # The technician's own clock; None: only the reader's is named.
    zone: tzinfo | None = None

    @property
    def start(self) -> datetime:
        return self.spans[0][0]

    @property
    def end(self) -> datetime:
        return self.spans[-1][1]

    def message(self, zone, *, dated: bool = False) -> str:
        """'outside Bob's working hours Sun 6 Dec 2026 09:00-21:00 (works Mon-Fri 08:00-17:00
        Europe/London)' (en dashes), the times on `zone`'s wall clock, each part outside named (at
        most 3; the day always: the parts of a split fall on many days, so `dated` changes nothing)."""
        parts = [span_text(begin, finish, zone) for begin, finish in self.spans[:3]]
        if len(self.spans) > 3:
            parts.append(f"and {len(self.spans) - 3} more")
        holiday = f"; public holiday: {', '.join(self.holidays)}" if self.holidays else ""
        own = self._own_time(zone)
        return (
            f"outside {self.agent_name}'s working hours {', '.join(parts)} ({own}works {self.working_hours}{holiday})"
        )

    def _own_time(self, zone) -> str:
        """ "04:00-05:00 Frank Miller's time; " (an en dash) when the technician's clock shows the parts other
        than `zone`'s (trial fault 13: the working hours are on their clock, the times on the
        reader's), else "". The day is named only where it differs from the reader's."""
        if self.zone is None:
            return ""
        texts, differs = [], False
        for begin, finish in self.spans[:3]:
            theirs = (timezone.localtime(begin, self.zone), timezone.localtime(finish, self.zone))
            ours = (timezone.localtime(begin, zone), timezone.localtime(finish, zone))
            differs |= [moment.replace(tzinfo=None) for moment in theirs] != [m.replace(tzinfo=None) for m in ours]
            same_days = [moment.date() for moment in theirs] == [moment.date() for moment in ours]
            texts.append(hours_text(*theirs) if same_days else span_text(begin, finish, self.zone))
        return f"{', '.join(texts)} {self.agent_name}'s time; " if differs else ""


def outside_working_hours(
    spans: list[tuple[datetime, datetime]], agents, *, settings: CalendarSettings | None = None
) -> list[OutsideHours]:
    """For each of `agents` (Agent rows) whose working hours do not hold all of `spans` (aware
    [start, end) pairs: one appointment, or the parts of a split), the parts outside them
    (calendars.availability.outside_working_time): the technician's own working days and hours on
    their own clock, and their public holidays. No query when `settings` is given."""
    from calendars.availability import crosses_midnight, days_off, outside_working_time

    found = []
    for tech in technicians_of(agents, settings=settings):
        outside = tuple(part for begin, end in spans for part in outside_working_time(tech, begin, end))
        if not outside:
            continue
        holidays = tuple(
            dict.fromkeys(
                name
                for begin, end in outside
                for day_begin, day_end, name in days_off(tech, begin, end)
                if day_begin < end and day_end > begin
            )
        )
        next_day = " the next day" if crosses_midnight(tech.start, tech.end) else ""
        hours = f"{_weekdays(tech.working_days)} {hours_text(tech.start, tech.end)}{next_day} {tech.zone.key}"
        found.append(OutsideHours(tech.id, tech.name, outside, hours, holidays, tech.zone))
    return found


def day_span_of(row) -> tuple[datetime, datetime]:
    """The aware [start, end) a busy_rows row holds its technician: an all-day entry covers its
    days from midnight to midnight on the technician's own clock (SPEC S2.4; RFC 5545 3.6.1: a
    DATE DTEND is exclusive), whichever technician's midnights it was stored at; any other
    entry its stored instants."""
    entry = row.appointment
    if not entry.all_day:
        return entry.start, entry.end
    return days_on_clock(entry.start_date, entry.end_date, entry.start, entry.end, row.agent.zone)


def days_on_clock(
    first: date | None, after: date | None, start: datetime, end: datetime, zone: tzinfo
) -> tuple[datetime, datetime]:
    """An all-day entry's days (`first`, and `after` the last: RFC 5545 3.6.1) as the aware
    [start, end) they cover on `zone`'s clock, midnight to midnight; rows from before the days were
    kept give their days as their stored `start` and `end` fall on that clock."""
    if first is None or after is None:
        first, after = times.date_span(start, end, zone)
    return times.midnight(first, zone), times.midnight(after, zone)


def overlaps(start: datetime, end: datetime, agent_ids, *, exclude: int | None = None) -> list[Overlap]:
    """Busy entries of these technicians overlapping [start, end) (an all-day one: its days on
    that technician's clock), other than `exclude` (the entry being moved) and its own series
    master; one query. Transparent entries (RFC 5545 TRANSP:TRANSPARENT, free) do not count."""
    rows = busy_rows(agent_ids=list(agent_ids), start=start, end=end, all_day_slack=True)
    if exclude is not None:
        rows = rows.exclude(appointment_id=exclude)
    found = []
    for row in _overlap_rows(rows):
        begin, finish = day_span_of(row)
        if begin < end and finish > start:
            found.append(_overlap_of(row, begin, finish))
    return found


def series_overlaps(spans: list[tuple[datetime, datetime]], agent_ids, *, series: int) -> list[Overlap]:
    """Busy entries of these technicians overlapping any of `spans` (the [start, end) of a
    series' occurrences: of equal length, so sorted by start they are sorted by end too), other
    than the series' own master and occurrences; one query, however many occurrences."""
    if not spans:
        return []
    spans = sorted(spans)
    starts = [start for start, _ in spans]
    rows = busy_rows(agent_ids=list(agent_ids), start=spans[0][0], end=max(end for _, end in spans), all_day_slack=True)
    rows = rows.exclude(appointment_id=series).exclude(appointment__master_id=series)
    found = []
    for row in _overlap_rows(rows):
        begin, finish = day_span_of(row)
        # The last occurrence starting before the entry ends meets it if it ends after its start.
        last = bisect_left(starts, finish) - 1
        if last >= 0 and spans[last][1] > begin:
            found.append(_overlap_of(row, begin, finish))
    return found


def _overlap_rows(rows: QuerySet) -> QuerySet:
    return rows.select_related("agent__user", "appointment").order_by("appointment__start", "agent_id")


def _overlap_of(row, start: datetime, end: datetime) -> Overlap:
    """The Overlap of one (technician, appointment) row of busy_rows, without private details;
    [start, end): what it holds of that technician's time (`day_span_of`)."""
    entry = row.appointment
    external = entry.source == Appointment.Source.EXTERNAL
    return Overlap(
        appointment_id=entry.pk,
        agent_id=row.agent_id,
        agent_name=row.agent.name,
        start=start,
        end=end,
        external=external,
        subject="" if external or entry.private else entry.subject,
        days=entry.day_span(row.agent.zone) if entry.all_day else None,
    )


# --- recurring series (S3.7) ----------------------------------------------------------------


@dataclass(frozen=True)
class MovedOccurrence:
    """An occurrence moved on its own: the start the rule gave it and where it is now (aware
    instants; an all-day one's midnights on the series' clock). `id`: None while it is not made
    yet (beyond the horizon, kept on the schedule)."""

    original_start: datetime
    start: datetime
    end: datetime
    id: int | None


@dataclass(frozen=True)
class SeriesExceptions:
    """The occurrences of a series changed on their own, each list by original start: `cancelled`
    (original starts, aware: EXDATEs and occurrences cancelled once made) and `moved`."""

    cancelled: list[datetime]
    moved: list[MovedOccurrence]


# --- a series' stored rule, read (services and pages share these) ------------------------


def schedule_zone(schedule: Schedule) -> tzinfo:
    """The zone on whose wall clock the series repeats (RFC 5545 3.3.10): its IANA zone (a
    ZoneInfo), or for a series kept on its own VTIMEZONE (`Schedule.zone_block`, a zone no IANA
    zone matches) the zone icalendar builds from that block (`ical_zones.zone_from_block`), so its
    occurrences, cancels and moves follow that zone's clock changes. Name it with
    `times.zone_label`."""
    if schedule.zone_block:
        from calendars import ical_zones  # icalendar: only for such a series (a command's start-up)

        return ical_zones.zone_from_block(schedule.zone_block)
    zone = schedule.time_zone
    return zone if isinstance(zone, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo(str(zone))


def rule_instant(moment: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """A moment of a django-recurrence rule (an UNTIL, RDATE or EXDATE, kept naive on the series'
    clock or aware) as an aware instant: a naive one read on `zone`'s wall clock, as
    django-recurrence reads it (RFC 5545 3.3.5 in a DST gap or fold: `times.on_wall_clock`)."""
    return times.on_wall_clock(moment, zone) if moment.tzinfo is None else moment


def exdate_instants(rule: recurrence_lib.Recurrence, zone: zoneinfo.ZoneInfo) -> list[datetime]:
    """A rule's EXDATEs as aware instants (`rule_instant`)."""
    return [rule_instant(moment, zone) for moment in rule.exdates]


def cancelled_starts(schedule: Schedule) -> list[datetime]:
    """The original starts the series' rule cancels (its EXDATEs, RFC 5545 3.8.5.1) as aware
    instants: occurrences cancelled before they were made, kept on the rule so they are never made.
    Occurrences cancelled once made are rows (`Appointment.is_cancelled`) instead."""
    return exdate_instants(schedule.recurrence, schedule_zone(schedule))


def _moment_from(text: str) -> datetime | date:
    return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)


def future_exceptions(schedule: Schedule) -> list[dict]:
    """The series' occurrences edited before they are made, as values: original_start (aware),
    start and end (aware, or dates for all-day), subject and location (None: the master's), and
    "private" (True: marked private on its own, kept without text; calendars.privacy)."""
    return [
        {
            **entry,
            "original_start": datetime.fromisoformat(entry["original_start"]),
            "start": _moment_from(entry["start"]),
            "end": _moment_from(entry["end"]),
        }
        for entry in schedule.future_exceptions or []
    ]


def occurrence_starts(
    schedule: Schedule, master: Appointment, until: datetime, *, after: datetime | None = None
) -> list[datetime]:
    """The starts the rule gives from the master's start (or from `after`, if later) up to
    `until`, both inclusive, as aware datetimes on the schedule's wall clock. The rule is still
    counted from the master's start (RFC 5545 3.8.5.3: COUNT and INTERVAL run from DTSTART)."""
    zone = schedule_zone(schedule)
    on_clock, seconds = _wall_clock_rule(schedule.recurrence, zone)
    local_start = master.start.astimezone(zone).replace(tzinfo=None)
    local_until = until.astimezone(zone).replace(tzinfo=None)
    local_after = max(local_start, after.astimezone(zone).replace(tzinfo=None)) if after else local_start
    with timezone.override(zone):  # django-recurrence reads UNTIL/RDATE/EXDATE in the current zone
        naive = on_clock.between(local_after, local_until, dtstart=local_start, inc=True)
    # fold=0: a wall-clock time that a DST change skips or repeats resolves like the phone would
    starts = [moment.replace(tzinfo=zone) for moment in naive]
    low = max(master.start, after) if after else master.start
    starts += [moment for moment in seconds if low <= moment <= until]
    return sorted(starts, key=lambda moment: moment.astimezone(UTC))


def _wall_clock_rule(rule: recurrence_lib.Recurrence, zone: tzinfo) -> tuple[recurrence_lib.Recurrence, list[datetime]]:
    """`rule` as django-recurrence can expand it on `zone`'s naive wall clock, and the extra starts
    it cannot: RDATEs kept as instants that are the second of a repeated hour (the second 02:30 of
    an autumn night, 01:30 UTC in Berlin), aware, less those an EXDATE at that same instant
    cancels. django-recurrence reads every value on the naive wall clock, where such an RDATE became
    the first 02:30, an hour early (RFC 5545 3.3.5 reads only a written local time as the first;
    an RDATE given in UTC names its instant), and such an EXDATE cancelled the rule's first 02:30.
    Both are taken out of the rule and applied here, on instants."""
    seconds = [m for m in rule.rdates if m.tzinfo is not None and times.is_second_of_two(m.astimezone(zone))]
    cancelled = {
        m.astimezone(UTC) for m in rule.exdates if m.tzinfo is not None and times.is_second_of_two(m.astimezone(zone))
    }
    if not seconds and not cancelled:
        return rule, []
    plain = recurrence_lib.Recurrence(
        rrules=rule.rrules,
        exrules=rule.exrules,
        rdates=[m for m in rule.rdates if m not in seconds],
        exdates=[m for m in rule.exdates if m.tzinfo is None or m.astimezone(UTC) not in cancelled],
        include_dtstart=False,
    )
    kept = {m.astimezone(UTC) for m in seconds} - cancelled
    return plain, sorted(m.astimezone(zone) for m in kept)


def series_starts_around(master: Appointment, moment: datetime) -> tuple[datetime | None, datetime | None]:
    """(the original start the series' rule gives last before `moment`, the first it gives at or
    after it): aware, on the series' wall clock; None where there is none. One expansion of the
    rule's whole set (RRULE and RDATE, RFC 5545 3.8.5): its cancelled starts (EXDATE) count too.
    A series with both has a past to keep and a future to drop ("Stop repeating now")."""
    schedule = master.schedule
    zone = schedule_zone(schedule)
    rule = schedule.recurrence
    on_clock, seconds = _wall_clock_rule(
        recurrence_lib.Recurrence(rrules=rule.rrules, exrules=rule.exrules, rdates=rule.rdates), zone
    )
    local_start = master.start.astimezone(zone).replace(tzinfo=None)
    local_moment = moment.astimezone(zone).replace(tzinfo=None)
    with timezone.override(zone):  # django-recurrence reads UNTIL/RDATE in the current zone
        # cache: the second search reads the starts the first one made.
        starts = on_clock.to_dateutil_rruleset(dtstart=local_start, cache=True)
        found = starts.before(local_moment, inc=False), starts.after(max(local_moment, local_start), inc=True)
    before, after = (
        start.replace(tzinfo=zone) if start is not None and start >= local_start else None for start in found
    )
    # The second of a repeated hour, on instants (`_wall_clock_rule`).
    instant, first = moment.astimezone(UTC), master.start.astimezone(UTC)
    earlier = [m for m in seconds if first <= m.astimezone(UTC) < instant]
    later = [m for m in seconds if m.astimezone(UTC) >= max(instant, first)]
    if earlier and (before is None or earlier[-1].astimezone(UTC) > before.astimezone(UTC)):
        before = earlier[-1]
    if later and (after is None or later[0].astimezone(UTC) < after.astimezone(UTC)):
        after = later[0]
    return before, after


def can_stop_repeating(master: Appointment, now: datetime) -> bool:
    """Whether the series (`master`, with its schedule) has a past to keep and a future to drop
    at `now` (aware): when `calendars.services.stop_repeating` would change it, not refuse it."""
    return None not in series_starts_around(master, now)


def series_exceptions(master: Appointment) -> SeriesExceptions:
    """What a series' page and API name besides its rule: its occurrences cancelled or moved on
    their own, made yet or not (RFC 5545 3.8.5.1 EXDATE, 3.8.4.4 RECURRENCE-ID). An occurrence
    edited only in its text is not moved. One query (the master's schedule read with it)."""
    schedule = master.schedule
    zone = schedule_zone(schedule)

    def span(start: datetime, end: datetime):
        # An all-day entry's length in days: its midnights are 23 or 25 hours apart over a DST change.
        if master.all_day:
            return end.astimezone(zone).date() - start.astimezone(zone).date()
        return end - start

    length = span(master.start, master.end)
    cancelled = set(cancelled_starts(schedule))
    moved = []
    rows = master.occurrences.filter(is_modified=True).values_list(
        "pk", "original_start", "start", "end", "is_cancelled"
    )
    for pk, original, start, end, is_cancelled in rows:
        if is_cancelled:
            cancelled.add(original)
        elif start != original or span(start, end) != length:
            moved.append(MovedOccurrence(original, start, end, pk))
    for entry in future_exceptions(schedule):
        start, end = entry["start"], entry["end"]
        if not isinstance(start, datetime):
            start, end = times.midnight(start, zone), times.midnight(end, zone)
        if start != entry["original_start"] or span(start, end) != length:
            moved.append(MovedOccurrence(entry["original_start"], start, end, None))
    return SeriesExceptions(sorted(cancelled), sorted(moved, key=lambda occurrence: occurrence.original_start))
