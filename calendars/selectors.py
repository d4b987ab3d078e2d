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
