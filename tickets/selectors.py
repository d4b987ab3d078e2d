"""Reads of requests and actions used by pages and API, in a fixed number of queries."""

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
