"""Reads of requests and actions used by pages and API, in a fixed number of queries."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Prefetch, Q, QuerySet

from agents.models import Agent
from helpdesk.durations import duration_text
from helpdesk.moments import day_text
from helpdesk.parsing import is_whole_number
from tickets.models import Action, HistoryLine, Request

_AGENTS = Prefetch("assigned_agents", queryset=Agent.objects.select_related("user"))
_HISTORY = Prefetch("history", queryset=HistoryLine.objects.select_related("agent__user"))


def request_list(
    *,
    status: str | None = None,
    agents: list[int] | None = None,
    team: int | None = None,
    search: str = "",
    base: QuerySet[Request] | None = None,
) -> QuerySet[Request]:
    """Requests filtered as on the request list, among `base` (by default all); technicians
    come prefetched."""
    queryset = Request.objects.all() if base is None else base
    if status:
        queryset = queryset.filter(status=status)
    if agents:
        queryset = queryset.filter(assigned_agents__in=agents)
    if team:
        queryset = queryset.filter(assigned_agents__teams=team)
    search = search.strip()
    if search:
        condition = Q(summary__icontains=search) | Q(customer__icontains=search) | Q(site__icontains=search)
        number = search.lstrip("#")
        if is_whole_number(number) and len(number) < 18:
            condition |= Q(pk=int(number))
        queryset = queryset.filter(condition)
    if agents or team:
        # Joining through technicians can repeat a request; keep each once.
        queryset = Request.objects.filter(pk__in=queryset.values("pk"))
    return queryset.order_by("-id").prefetch_related(_AGENTS, _HISTORY)


def request_detail(pk: int) -> QuerySet[Request]:
    return Request.objects.filter(pk=pk).prefetch_related(_AGENTS, _HISTORY)


def history_of(request: Request) -> QuerySet[HistoryLine]:
    """A request's history lines (`HistoryLine`), newest first, with whose calendar each came from."""
    if "history" in getattr(request, "_prefetched_objects_cache", {}):
        return request.history.all()  # read with the request (`request_detail`): no second query
    return request.history.select_related("agent__user").order_by("-created_at", "-id")


def actions_of(request: Request) -> QuerySet[Action]:
    return request.actions.select_related("agent__user", "appointment").order_by("-done_at", "-id")


# Slots "Find a slot" proposes at a time.
PROPOSALS = 5
# Free slots it looks at for each one proposed, to choose a spread of them
# (calendars.availability.spread_slots): 20 starts 30 minutes apart are more than a working day.
SPREAD_FROM = 20


@dataclass(frozen=True)
class Proposals:
    """What "Find a slot" found: the `estimate` (timedelta) it looked for, at most `count` `slots`
    (calendars.availability.Slot, UTC), the technicians they name ({agent id: Agent}) and the
    period searched, [`searched_from`, `searched_until`) (UTC; None when nobody was chosen):
    fewer slots than asked for means nothing else is free in it.

    When the estimate is longer than `longest_day` (the longest working day of those chosen, all
    at once in "together" mode: no slot can hold it), `slots` is empty and `split` proposes the
    work in parts on consecutive working days (calendars.availability.Split; None when none fits
    in the period searched); else `longest_day` and `split` are None. `split_refused` says why
    no split is proposed when even the longest working days would need more than
    calendars.availability.MAX_PARTS parts (book-split refuses more); else None."""

    estimate: timedelta
    slots: list
    agents: dict
    searched_from: datetime | None = None
    searched_until: datetime | None = None
    longest_day: timedelta | None = None
    split: object | None = None
    split_refused: str | None = None

    @property
    def too_long(self) -> bool:
        """The estimate is longer than any working day: the proposal is a split, not slots."""
        return self.longest_day is not None


def slot_proposals(
    request: Request,
    *,
    team=None,
    buffer: timedelta = timedelta(0),
    notice: timedelta = timedelta(0),
    after: datetime | None = None,
    now: datetime | None = None,
    count: int = PROPOSALS,
) -> Proposals:
    """ "Find a slot" (issue 15): the next `count` free slots for the request's estimate (or the
    default estimate), from the first whole hour after `now + notice` on the reader's wall clock
    (the current zone), or from `after` when later
    (UTC instants; `now` defaults to the present), up to the calendars' horizon
    (calendars.availability.search_horizon: the import window's future days), stopping at the
    first `count` * SPREAD_FROM free slots, of which `count` are proposed as a spread of choices
    (calendars.availability.spread_slots on the reader's wall clock: one per technician per
    morning or afternoon first, then the earliest others). `buffer` is kept free before and
    after every busy block (travel). With a team: any one member, fairest first (the slot's
    first technician is the one to book); else all assigned technicians together. No slots
    when nobody is chosen. Raises ValueError for a negative buffer or notice, or an `after`
    beyond the horizon.

    An estimate longer than the longest working day of those chosen (a 12-hour job, 08:00-17:00
    days) fits in no slot: instead of searching to the horizon for nothing, it proposes the
    earliest split (calendars.availability.search_split_for, the same bound on queries): parts of
    at least an hour on consecutive working days of the same technician (a team: the first one
    who can do it all; else the assigned technicians together), adding up to the estimate, in at
    most MAX_PARTS parts: work that would need more even on the longest working days is not
    searched for, and `split_refused` says so."""
    from django.utils import timezone

    from calendars.availability import (
        MAX_PARTS,
        Mode,
        Options,
        longest_working_day,
        search_horizon,
        search_slots_for,
        search_split_for,
        spread_slots,
    )
    from calendars.models import CalendarSettings
    from calendars.selectors import calendar_agents, technicians_of
    from calendars.times import next_whole_hour

    settings = CalendarSettings.load()
    estimate = request.estimate or settings.default_estimate
    if team is not None:
        agents, mode = list(calendar_agents(team=team.pk)), Mode.ANY
    else:
        agents, mode = [a for a in request.assigned_agents.all() if a.is_active], Mode.TOGETHER
    if not agents:
        return Proposals(estimate, [], {})
    if buffer < timedelta(0) or notice < timedelta(0):
        raise ValueError("The travel buffer and the minimum notice cannot be negative.")
    now = now or timezone.now()
    horizon = search_horizon(settings, now)
    if after is not None and after >= horizon:
        day = timezone.localtime(horizon).date()
        raise ValueError(f"Search from a date before {day_text(day)}: the calendars are not known further.")
    # Whole hours on the grid of 30-minute steps, as the page has always proposed: whole on the
    # reader's wall clock (the current zone), which is not a whole UTC hour at +05:45 or +05:30.
    earliest = (now + notice).astimezone(UTC)
    start = next_whole_hour(earliest, timezone.get_current_timezone())
    if after is not None and after > start:
        start = after.astimezone(UTC)
    # Booking again replaces the request's current booking: its time is free for the new one.
    options = Options(
        duration=estimate, mode=mode, buffer=buffer, notice=notice, limit=count * SPREAD_FROM, rebooking=request.pk
    )
    longest = longest_working_day(technicians_of(agents, settings=settings), mode, start)
    if estimate > longest * MAX_PARTS:
        refused = (
            f"No proposal in parts: even on the longest working days ({duration_text(longest)}) the estimate of "
            f"{duration_text(estimate)} needs more than {MAX_PARTS} parts, the most one booking makes. "
            "Split the request into several requests."
        )
        # Nothing was searched: the period is empty, [start, start).
        agents_by_id = {agent.pk: agent for agent in agents}
        return Proposals(estimate, [], agents_by_id, start, start, longest_day=longest, split_refused=refused)
    if estimate > longest:
        split, until = search_split_for(agents, period=(start, horizon), options=options, now=now, settings=settings)
        agents_by_id = {agent.pk: agent for agent in agents}
        return Proposals(estimate, [], agents_by_id, start, until, longest_day=longest, split=split)
    search = search_slots_for(agents, start=start, horizon=horizon, options=options, now=now, settings=settings)
    zone = timezone.get_current_timezone()
    slots = spread_slots(search.slots, count=count, zone=zone, by_technician=mode == Mode.ANY)
    return Proposals(estimate, slots, {agent.pk: agent for agent in agents}, search.start, search.end)
