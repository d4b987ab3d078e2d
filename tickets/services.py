"""Rules that write requests and actions, keeping their appointments in step (S1.1, S1.2, S1.4)."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from calendars import selectors as calendar_selectors
from calendars import services as calendar_services
from calendars.availability import MAX_PARTS, MIN_PART
from helpdesk import permissions
from helpdesk.moments import history_moment, history_parts, history_text
from tickets.models import Action, HistoryLine, Request

REQUEST_FIELDS = ("summary", "description", "customer", "site", "status", "planned_start", "estimate", "planned_length")
ACTION_FIELDS = ("agent", "done_at", "time_taken", "note", "add_to_calendar")
Model = TypeVar("Model", Request, Action)


def _saved_with(instance: Model, fields: dict, *, allowed: tuple[str, ...], what: str) -> Model:
    """`instance` with `fields` set, checked (`full_clean`: ValidationError by field, nothing
    saved) and saved. A field name outside `allowed` is a programming error: TypeError."""
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"Unknown {what} field(s): {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    return instance


class PlannedForOthers(ValidationError):
    """A person may not plan a new request on these technicians' calendars (helpdesk.permissions.
    can_create_request_for): a ValidationError on `assigned_agents`, which the API answers as 403."""

    def __init__(self) -> None:
        super().__init__({"assigned_agents": permissions.PLANNED_FOR_OTHERS})


@transaction.atomic
def create_request(
    *, summary: str, by=None, assigned_agents: Iterable[Agent] = (), check_overlap: bool = False, **fields
) -> Request:
    """A new request; with a planned date, its appointment (S1.1). `by`: the user making it (None:
    the system). `check_overlap`: raise calendars.services.OverlapWarning, saving nothing, when that
    would double-book or leave working hours (S6.3).

    Raises PlannedForOthers (a ValidationError on `assigned_agents`) when `by` may not put the
    planned appointment on those technicians' calendars: a technician plans a new request only
    with herself among its technicians (review fault 2)."""
    assigned_agents = list(assigned_agents)
    planned = fields.get("planned_start") is not None
    if by is not None and not permissions.can_create_request_for(by, agents=assigned_agents, planned=planned):
        raise PlannedForOthers
    request = _saved_with(Request(summary=summary), fields, allowed=REQUEST_FIELDS, what="request")
    request.assigned_agents.set(assigned_agents)
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
    (issue 15). A change of the planned date by a person (`by`) leaves a line in the request's
    history: set, changed or cleared (`_planned_line`); so does a change of its technicians
    (calendars.services.record_reassignment: "Reassigned from Alice Jansen to Bob de Vries by ...").
    """
    planned_before = request.planned_start
    # Read only when a person may change the technicians: the history then names the change.
    regrouping = by is not None and assigned_agents is not None
    agent_ids_before = set(request.assigned_agents.values_list("pk", flat=True)) if regrouping else set()
    entry_before = regrouping and _planned(request).exists()
    _saved_with(request, fields, allowed=REQUEST_FIELDS, what="request")
    if assigned_agents is not None:
        assigned_agents = list(assigned_agents)
        request.assigned_agents.set(assigned_agents)
    entry = calendar_services.sync_planned_appointment(request, by=by, check_overlap=check_overlap)
    if by is not None and request.planned_start != planned_before:
        record_history(request.pk, _planned_line(planned_before, request.planned_start, by=by))
    # A planned entry that stays is regrouped by calendars.services.update_appointment, which writes
    # the line itself (with where it moved); otherwise (newly planned, unplanned or never planned:
    # a booking through "Find a slot" of an unplanned request, trial F-BOOK-REASSIGN) it is written here.
    if regrouping and not (entry_before and entry is not None):
        zone = assigned_agents[0].zone if assigned_agents else timezone.get_current_timezone()
        calendar_services.record_reassignment(request.pk, agent_ids_before, assigned_agents, by=by, zone=zone)
    return request


def _planned_line(before: datetime | None, after: datetime | None, *, by) -> str:
    """The request's history line for its planned date set, changed or cleared by the person `by`,
    its times kept as instants (helpdesk.moments.history_moment) and written on each reader's
    clock with its zone's abbreviation, as every history line writes them: "Planned for Wed 2 Dec
    2026 10:00 CET by Cees", "Re-planned from ... to ... by Cees", "Unplanned by Cees (was planned
    for ...)". A change by the sync (by=None) is written by the sync, naming the technician's
    calendar it came from (integrations.sync.inbound)."""
    who = by.get_full_name() or by.get_username()
    if before is None:
        return f"Planned for {history_moment(after)} by {who}"
    if after is None:
        return f"Unplanned by {who} (was planned for {history_moment(before)})"
    return f"Re-planned from {history_moment(before)} to {history_moment(after)} by {who}"


def _check_parts(parts: list[tuple[datetime, datetime]], estimate: timedelta) -> None:
    """Raise ValidationError({"parts": ...}) unless `parts` (aware (start, end) pairs, in order)
    are 2 to MAX_PARTS, each at least MIN_PART long, one after another, adding up to `estimate`."""
    if len(parts) < 2:
        raise ValidationError({"parts": "Give at least two parts; book a single slot instead."})
    if len(parts) > MAX_PARTS:
        raise ValidationError({"parts": f"Give at most {MAX_PARTS} parts; book longer work as several requests."})
    for begin, finish in parts:
        if begin.tzinfo is None or finish.tzinfo is None:
            raise ValidationError({"parts": "Give every part's start and end with a time zone or offset."})
        if finish <= begin:
            raise ValidationError({"parts": "Every part must end after it starts."})
        if finish - begin < MIN_PART:
            # As find-slot proposes them: a shorter part is not worth a trip.
            minutes = int(MIN_PART.total_seconds() // 60)
            raise ValidationError({"parts": f"Every part must last at least {minutes} minutes."})
    for (_, finish), (begin, _) in pairwise(parts):
        if begin < finish:
            raise ValidationError({"parts": "The parts must follow one another without overlapping."})
    total = sum((finish - begin for begin, finish in parts), timedelta(0))
    if total != estimate:
        raise ValidationError(
            {"parts": f"The parts add up to {total}, not to the request's estimate of {estimate}: find a slot again."}
        )


def part_subject(request: Request, number: int, count: int) -> str:
    """The subject of a later part of split work: "#12 Server move (part 2 of 3)"."""
    suffix = f" (part {number} of {count})"
    return f"#{request.pk} {request.summary}"[: 255 - len(suffix)] + suffix


@dataclass(frozen=True)
class Booking:
    """What booking a request through "Find a slot" made, and what of its earlier booking it replaced."""

    # The request's planned appointment (the first part) first, then the later parts in order.
    appointments: list
    # The earlier booking's later parts, removed (calendars.services.RemovedPart), by part number.
    replaced: list = field(default_factory=list)
    # The change of technicians it made, as the history names it ("Reassigned from Alice Jansen to
    # Bob de Vries": calendars.services.reassignment_words); "" when they stayed.
    reassigned: str = ""


@transaction.atomic
def book_slot(
    request: Request, *, start: datetime, agents: Iterable[Agent], by=None, check_overlap: bool = True
) -> Booking:
    """Book a slot "Find a slot" proposed: the request is planned at `start` (aware) with `agents`,
    its planned appointment holding the whole estimate (`planned_length` cleared). It replaces the
    earlier booking: the later parts of work booked in parts before are deleted in the same
    transaction (through calendars.services.delete_appointment, so external calendars lose them).

    Raises ValidationError for no technicians or a naive start; calendars.services.OverlapWarning
    with `check_overlap` when the slot would double-book (taken since it was proposed) or leaves a
    technician's working hours, days or public holidays (`outside`); either way nothing is saved
    and the earlier booking stays."""
    agents = list(agents)
    if not agents:
        raise ValidationError({"agents": "Choose at least one technician."})
    if start.tzinfo is None:
        raise ValidationError({"start": "Give the start with a time zone or offset."})
    agent_ids_before = set(request.assigned_agents.values_list("pk", flat=True))
    replaced = calendar_services.remove_later_parts(request, by=by)
    update_request(
        request,
        by=by,
        assigned_agents=agents,
        planned_start=start,
        planned_length=None,
        check_overlap=check_overlap,
    )
    reassigned = calendar_services.reassignment_words(agent_ids_before, agents)
    return Booking(appointments=list(_planned(request)), replaced=replaced, reassigned=reassigned)


def _planned(request: Request):
    from calendars.models import Appointment

    return Appointment.objects.filter(request=request, source=Appointment.Source.PLANNED)


@transaction.atomic
def book_split(
    request: Request,
    *,
    parts: Iterable[tuple[datetime, datetime]],
    agents: Iterable[Agent],
    by=None,
    check_overlap: bool = True,
) -> Booking:
    """Book work longer than a working day in parts (calendars.availability.Split), all for the
    same `agents`: the request is planned at the first part (its planned appointment covers that
    part: `planned_length`), and each later part is an appointment on the request marked with its
    number (`Appointment.part`, subject "#12 Server move (part 2 of 3)"). `parts` are aware
    (start, end) instants in order, adding up to the request's estimate (or the default estimate).
    It replaces the earlier booking: that one's later parts are deleted first, in the same
    transaction (through calendars.services.delete_appointment, so external calendars lose them;
    the new parts may take their times). Returns the Booking, first part first.

    Raises ValidationError for parts that are fewer than two, overlap, or do not add up to the
    estimate; calendars.services.OverlapWarning with `check_overlap` when a part would
    double-book a technician (taken since it was proposed) or leaves their working hours, days or
    public holidays (`outside`); either way nothing is saved and the earlier booking stays."""
    from calendars.models import CalendarSettings

    parts, agents = list(parts), list(agents)
    if not agents:
        raise ValidationError({"agents": "Choose at least one technician."})
    _check_parts(parts, request.estimate or CalendarSettings.load().default_estimate)
    try:
        return _book_parts(request, parts=parts, agents=agents, by=by, check_overlap=check_overlap)
    except calendar_services.OverlapWarning as warning:
        # Each part is checked as it is written and the first one in the way stops the booking;
        # a split is confirmed once, so the question names the working hours every part leaves.
        outside = calendar_selectors.outside_working_hours(parts, agents)
        raise calendar_services.OverlapWarning(warning.overlaps, dated=True, outside=outside) from None


def _book_parts(request: Request, *, parts: list, agents: list, by, check_overlap: bool) -> Booking:
    """book_split's writes, once its parts are checked."""
    agent_ids_before = set(request.assigned_agents.values_list("pk", flat=True))
    replaced = calendar_services.remove_later_parts(request, by=by)
    first_start, first_end = parts[0]
    update_request(
        request,
        by=by,
        assigned_agents=agents,
        planned_start=first_start,
        planned_length=first_end - first_start,
        check_overlap=check_overlap,
    )
    booked = [_planned(request).get()]
    for number, (begin, finish) in enumerate(parts[1:], start=2):
        booked.append(
            calendar_services.create_appointment(
                subject=part_subject(request, number, len(parts)),
                start=begin,
                end=finish,
                agents=agents,
                location=request.site[:255],
                request=request,
                part=number,
                by=by,
                check_overlap=check_overlap,
            )
        )
    reassigned = calendar_services.reassignment_words(agent_ids_before, agents)
    return Booking(appointments=booked, replaced=replaced, reassigned=reassigned)


@transaction.atomic
def delete_request(request: Request, *, by=None) -> None:
    """Remove a request and every appointment on it, each through calendars.services.
    delete_appointment (so external calendars lose them too), later parts first."""
    calendar_services.remove_later_parts(request, by=by)
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
    _saved_with(action, fields, allowed=ACTION_FIELDS, what="action")
    calendar_services.sync_action_appointment(action, by=by)
    return action


@transaction.atomic
def delete_action(action: Action, *, by=None) -> None:
    """Remove an action and its appointment (S1.4)."""
    appointment = getattr(action, "appointment", None)
    if appointment is not None:
        calendar_services.delete_appointment(appointment, by=by)
    action.delete()


def record_history(
    request_id: int,
    text: str,
    *,
    agent: Agent | None = None,
    at: datetime | None = None,
    zone: tzinfo | None = None,
) -> HistoryLine:
    """Add a line to a request's history (`HistoryLine`): a change that reached the request from
    outside its pages, such as its planned appointment deleted in a technician's external
    calendar. `text` may mark instants (helpdesk.moments.history_moment): they are kept as
    instants (`parts`) and written on each reader's clock; `HistoryLine.text` keeps the sentence
    on `zone`'s clock (default: the current one), cut to 500 characters. `at` (aware, default now)
    is when it happened. Returns the line written."""
    parts = history_parts(text)
    written = history_text(parts, zone or timezone.get_current_timezone())
    line = HistoryLine(request_id=request_id, text=written[:500], parts=parts, agent=agent)
    if at is not None:
        line.created_at = at
    line.save()
    return line
