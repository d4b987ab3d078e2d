"""Reads of requests and actions used by pages and API, in a fixed number of queries."""

from datetime import UTC, datetime, timedelta

from django.db.models import Prefetch, Q, QuerySet

from agents.models import Agent
from tickets.models import Action, Request

_AGENTS = Prefetch("assigned_agents", queryset=Agent.objects.select_related("user"))


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
        if number.isdigit() and len(number) < 18:
            condition |= Q(pk=int(number))
        queryset = queryset.filter(condition)
    if agents or team:
        # Joining through technicians can repeat a request; keep each once.
        queryset = Request.objects.filter(pk__in=queryset.values("pk"))
    return queryset.order_by("-id").prefetch_related(_AGENTS)


def request_detail(pk: int) -> QuerySet[Request]:
    return Request.objects.filter(pk=pk).prefetch_related(_AGENTS)


def actions_of(request: Request) -> QuerySet[Action]:
    return request.actions.select_related("agent__user", "appointment").order_by("-done_at", "-id")


def slot_proposals(
    request: Request,
    *,
    team=None,
    buffer: timedelta = timedelta(0),
    notice: timedelta = timedelta(0),
    now: datetime | None = None,
    days: int = 14,
    count: int = 5,
):
    """ "Find a slot" (issue 15): the next `count` free slots for the request's estimate (or the
    default estimate), searched for `days` days from the first whole hour after `now + notice`
    (UTC instants; `now` defaults to the present). `buffer` is kept free before and after every
    busy block (travel). With a team: any one member, fairest first (the slot's first
    technician is the one to book); else all assigned technicians together. Returns (estimate as
    a timedelta, [calendars.availability.Slot], {agent id: Agent}); no slots when nobody is
    chosen. Raises ValueError for a negative buffer or notice."""
    from django.utils import timezone

    from calendars.availability import Mode, Options, find_slots_for
    from calendars.models import CalendarSettings
    from calendars.selectors import calendar_agents

    settings = CalendarSettings.load()
    estimate = request.estimate or settings.default_estimate
    if team is not None:
        agents, mode = list(calendar_agents(team=team.pk)), Mode.ANY
    else:
        agents, mode = [a for a in request.assigned_agents.all() if a.is_active], Mode.TOGETHER
    if not agents:
        return estimate, [], {}
    if buffer < timedelta(0) or notice < timedelta(0):
        raise ValueError("The travel buffer and the minimum notice cannot be negative.")
    now = now or timezone.now()
    # Whole hours on the grid of 30-minute steps, as the page has always proposed.
    earliest = (now + notice).astimezone(UTC)
    start = earliest.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    options = Options(duration=estimate, mode=mode, buffer=buffer, notice=notice, limit=count)
    slots = find_slots_for(
        agents, start=start, end=start + timedelta(days=days), options=options, now=now, settings=settings
    )
    return estimate, slots, {agent.pk: agent for agent in agents}
