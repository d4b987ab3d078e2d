"""Reads used by pages, API, feed and sync."""

from dataclasses import dataclass
from datetime import datetime, time

from django.db.models import Prefetch, QuerySet

from agents.models import Agent, AgentSyncPolicy
from calendars.models import Appointment, CalendarSettings, SyncPolicy


def effective_sync_policy(agent: Agent, settings: CalendarSettings | None = None) -> str:
    """Never, Always or Ask for this technician: the global policy, or the technician's own
    when the global policy says to use it (a technician who chose nothing syncs always)."""
    settings = settings or CalendarSettings.load()
    if settings.sync_policy != SyncPolicy.TECHNICIAN:
        return settings.sync_policy
    if agent.sync_policy == AgentSyncPolicy.GLOBAL:
        return SyncPolicy.ALWAYS
    return agent.sync_policy


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


def appointments_between(start: datetime, end: datetime, *, agents: QuerySet | list | None = None) -> QuerySet:
    """Calendar entries overlapping [start, end), with their technicians and request, in a fixed
    number of queries however many technicians are asked for."""
    queryset = Appointment.objects.visible().overlapping(start, end)
    if agents is not None:
        queryset = queryset.filter(agents__in=agents).distinct()
    return queryset.select_related("request", "master").prefetch_related(
        Prefetch("agents", queryset=Agent.objects.select_related("user"))
    )


def calendar_appointments(
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    agents: list[int] | None = None,
    team: int | None = None,
    source: str | None = None,
    request: int | None = None,
    recurring_only: bool = False,
) -> QuerySet:
    """What a calendar or the API lists: visible entries, optionally in a window, for some
    technicians or a team, of one source or request, or only occurrences of recurring series.
    A fixed number of queries whatever the number of technicians."""
    queryset = Appointment.objects.visible()
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
    return queryset.order_by("start", "id").prefetch_related(
        Prefetch("agents", queryset=Agent.objects.select_related("user"))
    )


def calendar_agents(*, ids: list[int] | None = None, team: int | None = None) -> QuerySet[Agent]:
    """Technicians shown on a calendar (the resources of the group view)."""
    queryset = Agent.objects.filter(is_active=True).select_related("user")
    if ids:
        queryset = queryset.filter(pk__in=ids)
    if team:
        queryset = queryset.filter(pk__in=Agent.teams.through.objects.filter(team=team).values("agent"))
    return queryset.prefetch_related("teams")
