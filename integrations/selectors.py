"""Reads for the sync pages, the header badge and admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from agents.models import Agent
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry

WAITING = SyncLink.Approval.WAITING


def waiting_for_approval(agent: Agent) -> QuerySet:
    """The technician's "to approve" list: appointments that wait before they are pushed."""
    return (
        SyncLink.objects.filter(agent_calendar__agent=agent, approval=WAITING, appointment__isnull=False)
        .select_related("appointment", "appointment__request", "agent_calendar__connection")
        .order_by("appointment__start")
    )


def approval_count(user) -> int:
    agent = getattr(user, "agent", None) if getattr(user, "is_authenticated", False) else None
    if agent is None:
        return 0
    return SyncLink.objects.filter(agent_calendar__agent=agent, approval=WAITING, appointment__isnull=False).count()


@dataclass(frozen=True)
class CalendarHealth:
    agent_calendar: AgentCalendar
    last_sync: datetime | None
    last_error: str
    pending: int
    waiting: int
    failing: int


def calendars_with_health(agents: QuerySet | list | None = None) -> list[CalendarHealth]:
    """Per agent calendar: last sync, last error, pending count, in one query."""
    calendars = AgentCalendar.objects.select_related("agent__user", "connection").annotate(
        pending_count=Count("links", filter=Q(links__pending=True) & ~Q(links__approval=WAITING)),
        waiting_count=Count("links", filter=Q(links__approval=WAITING)),
        failing_count=Count("links", filter=Q(links__failures__gt=0)),
    )
    if agents is not None:
        calendars = calendars.filter(agent__in=agents)
    return [
        CalendarHealth(
            c, c.last_sync, c.last_error, c.pending_count, c.waiting_count, c.failing_count + len(c.import_retry or {})
        )
        for c in calendars
    ]


def recent_log(agent: Agent, limit: int = 20) -> QuerySet:
    return SyncLogEntry.objects.filter(agent_calendar__agent=agent).select_related("agent_calendar__connection")[:limit]
