"""Rules that write requests and actions, keeping their appointments in step (S1.1, S1.2, S1.4)."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction

from agents.models import Agent
from calendars import services as calendar_services
from tickets.models import Action, Request

REQUEST_FIELDS = ("summary", "description", "customer", "site", "status", "planned_start", "estimate")


@transaction.atomic
def create_request(
    *, summary: str, by=None, assigned_agents: Iterable[Agent] = (), check_overlap: bool = False, **fields
) -> Request:
    """A new request; with a planned date, its appointment (S1.1). `check_overlap`: raise
    calendars.services.OverlapWarning, saving nothing, when that would double-book (issue 15)."""
    unknown = set(fields) - set(REQUEST_FIELDS)
    if unknown:
        raise TypeError(f"Unknown request field(s): {', '.join(sorted(unknown))}.")
    request = Request(summary=summary, **fields)
    request.full_clean()
    request.save()
    request.assigned_agents.set(list(assigned_agents))
    calendar_services.sync_planned_appointment(request, by=by, check_overlap=check_overlap)
    return request


@transaction.atomic
def update_request(
    request: Request,
    *,
    by=None,
    assigned_agents: Iterable[Agent] | None = None,
    check_overlap: bool = False,
    **fields,
) -> Request:
    """Change a request; its planned appointment follows (S1.4). `check_overlap`: raise
    calendars.services.OverlapWarning, saving nothing, when the planned time would double-book
    (issue 15)."""
    unknown = set(fields) - set(REQUEST_FIELDS)
    if unknown:
        raise TypeError(f"Unknown request field(s): {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        setattr(request, name, value)
    request.full_clean()
    request.save()
    if assigned_agents is not None:
        request.assigned_agents.set(list(assigned_agents))
    calendar_services.sync_planned_appointment(request, by=by, check_overlap=check_overlap)
    return request


def plan_request(request: Request, *, start: datetime | None, estimate: timedelta | None = None, by=None) -> Request:
    """Set (or clear, with start=None) the planned date; its appointment follows (S1.1)."""
    fields = {"planned_start": start}
    if estimate is not None:
        fields["estimate"] = estimate
    return update_request(request, by=by, **fields)


def assign_request(request: Request, *, agents: Iterable[Agent], by=None) -> Request:
    return update_request(request, by=by, assigned_agents=agents)


@transaction.atomic
def delete_request(request: Request, *, by=None) -> None:
    for appointment in request.appointments.filter(master__isnull=True):
        calendar_services.delete_appointment(appointment, by=by)
    request.delete()


@transaction.atomic
def log_action(
    request: Request,
    *,
    agent: Agent,
    done_at: datetime,
    time_taken: timedelta = timedelta(0),
    note: str = "",
    add_to_calendar: bool = False,
    by=None,
) -> Action:
    """Record work on a request; with add_to_calendar, it lands on the agent's calendar (S1.2)."""
    action = Action(
        request=request,
        agent=agent,
        done_at=done_at,
        time_taken=time_taken,
        note=note,
        add_to_calendar=add_to_calendar,
    )
    action.full_clean()
    action.save()
    calendar_services.sync_action_appointment(action, by=by)
    return action


@transaction.atomic
def update_action(action: Action, *, by=None, **fields) -> Action:
    allowed = {"agent", "done_at", "time_taken", "note", "add_to_calendar"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"Unknown action field(s): {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        setattr(action, name, value)
    action.full_clean()
    action.save()
    calendar_services.sync_action_appointment(action, by=by)
    return action


@transaction.atomic
def delete_action(action: Action, *, by=None) -> None:
    """Remove an action and its appointment (S1.4)."""
    appointment = getattr(action, "appointment", None)
    if appointment is not None:
        calendar_services.delete_appointment(appointment, by=by)
    action.delete()
