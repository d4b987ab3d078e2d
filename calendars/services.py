"""Rules that write appointments: from planned requests, actions, by hand, and recurring.

Every function validates before it writes, writes in one transaction, and announces the
change with `appointment_changed` so sync and e-mail can queue their work on commit.
"""

import copy
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import partial

import recurrence as recurrence_lib
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from calendars import ownership, privacy, times
from calendars.models import Appointment, CalendarSettings, EditScope, Schedule
from calendars.rule_parts import checks_ranges, rule_part_problem, rule_text_parts
from calendars.selectors import (
    cancelled_starts,
    exdate_instants,
    future_exceptions,
    occurrence_starts,
    rule_instant,
    schedule_zone,
    series_starts_around,
)
from calendars.signals import Change, appointment_changed
from helpdesk import bulk
from helpdesk.moments import history_moment, span_text
from tickets.models import Action, Request

RECURRENCE_HORIZON = timedelta(days=365)
# The most occurrences one series may have in that year (the import refuses more too,
# integrations.sync.inbound._check_cost).
MAX_OCCURRENCES_A_YEAR = 5000
# Fields of a master that its occurrences share unless edited on their own.
SHARED_FIELDS = (
    "subject",
    "note",
    "location",
    "private",
    "busy",
    "reminder_minutes",
    "no_reminder",
    "other_attendees",
    "all_day",
)
EDITABLE_FIELDS = (*SHARED_FIELDS, "start", "end")


# --- helpers ---------------------------------------------------------------------------


def _announce(
    appointment: Appointment,
    change: Change,
    agent_ids_before: Iterable[int],
    by,
    *,
    follows: bool = False,
    split_from: int | None = None,
) -> None:
    appointment_changed.send(
        sender=Appointment,
        appointment=appointment,
        change=change,
        agent_ids_before=frozenset(agent_ids_before),
        by=by,
        follows=follows,
        **({"split_from": split_from} if split_from is not None else {}),
    )


def _aware(value: datetime | date, zone: zoneinfo.ZoneInfo) -> datetime:
    """Naive times are read on the wall clock of `zone` (fold=0: a time in the spring gap with
    the offset before it, RFC 5545 3.3.5); a date is the start of that day there."""
    if value is None:
        raise ValidationError("A start and an end are required.")
    if not isinstance(value, datetime):
        return times.midnight(value, zone)
    if timezone.is_naive(value):
        return times.on_wall_clock(value, zone)
    return value


def aware(value: datetime | date, zone: zoneinfo.ZoneInfo) -> datetime:
    """A value as an instant: naive times on `zone`'s wall clock, a date the start of that day there."""
    return _aware(value, zone)


def _set_days(appointment: Appointment, start: datetime | date, end: datetime | date, zone) -> None:
    """An all-day entry keeps its days (dates, the same in every zone) and indexes them at the
    technician's midnights; any other entry has no days."""
    if not appointment.all_day:
        appointment.start_date = appointment.end_date = None
        return
    first, after = times.date_span(start, end, zone)
    appointment.start_date, appointment.end_date = first, after
    appointment.start, appointment.end = times.midnight(first, zone), times.midnight(after, zone)


def _given(value, stored: datetime) -> datetime | date:
    """What a caller gave: a date as it is (a day), anything else as the instant stored."""
    return value if value is not None and not isinstance(value, datetime) else stored


def same_span(appointment: Appointment, start: datetime | date, end: datetime | date) -> bool:
    """Does the appointment already cover exactly this span (days for dates, else instants)?"""
    if not isinstance(start, datetime):
        return appointment.all_day and (appointment.start_date, appointment.end_date) == (start, end)
    return (appointment.start, appointment.end) == (start, end)


def _zone_of(agents: list[Agent]) -> zoneinfo.ZoneInfo:
    return agents[0].zone if agents else zoneinfo.ZoneInfo(timezone.get_current_timezone_name())


def _check_agents(agents: list[Agent]) -> None:
    if not agents:
        raise ValidationError({"agents": "Choose at least one technician."})


def _unchecked_fields(appointment: Appointment) -> list[str]:
    exclude = ["created_by", "master", "request", "action"]
    if appointment.private and appointment.source == Appointment.Source.EXTERNAL:
        exclude.append("subject")  # imported private entries are busy time with no subject
    return exclude


def _validated_save(appointment: Appointment) -> None:
    appointment.full_clean(exclude=_unchecked_fields(appointment))
    appointment.save()


def _agent_ids(appointment: Appointment) -> frozenset[int]:
    if appointment.pk is None:
        return frozenset()
    return frozenset(appointment.agents.values_list("id", flat=True))


class OverlapWarning(ValidationError):
    """The save would double-book, or book outside working hours: `overlaps`
    (calendars.selectors.Overlap) names what is in the way, `outside` (calendars.selectors.
    OutsideHours) the technicians whose working hours it leaves. Raised only when the caller asked
    for the check and the admin setting is on; the caller asks the user and saves again with the
    check off once confirmed (SPEC S6.3)."""

    # A series can meet hundreds of entries: the message names this many, `overlaps` holds all.
    NAMED = 5

    def __init__(self, overlaps: list, *, dated: bool = False, outside: list | tuple = ()) -> None:
        """`dated`: name the day of every overlap (those of a series fall on many days)."""
        self.overlaps = overlaps
        self.outside = list(outside)
        self.dated = dated
        zone = timezone.get_current_timezone()
        said = []
        if overlaps:
            lines = "; ".join(overlap.message(zone, dated=dated) for overlap in overlaps[: self.NAMED])
            if len(overlaps) > self.NAMED:
                lines += f"; and {len(overlaps) - self.NAMED} more"
            said.append(f"Double booking: {lines}.")
        if self.outside:
            lines = "; ".join(outside.message(zone) for outside in self.outside[: self.NAMED])
            if len(self.outside) > self.NAMED:
                lines += f"; and {len(self.outside) - self.NAMED} more"
            said.append(f"Outside working hours: {lines}.")
        super().__init__(f"{' '.join(said)} Confirm to save anyway.", code="overlap")

    def named(self, zone) -> str:
        """Every reason in one line ('overlaps ...; outside ...'), for a page's message."""
        return "; ".join(reason.message(zone) for reason in [*self.overlaps, *self.outside])


def refuse_conflicts(
    spans: list[tuple[datetime, datetime]],
    agents: Iterable[Agent],
    *,
    exclude: int | None = None,
    series: int | None = None,
    all_day: bool = False,
) -> None:
    """The one check every write asks before saving a busy entry (SPEC S6.3, S2.4): raise
    OverlapWarning when one of `spans` (aware [start, end) pairs: an entry, or the occurrences of
    a series) meets another busy entry of these technicians (`agents`, Agent rows; helpdesk or
    imported; not `exclude`, the entry being moved, nor the entries of `series`, the master being
    checked), or leaves a technician's working days, hours or public holidays on their own clock
    (calendars.selectors.outside_working_hours; not asked for an all-day entry, which holds whole
    days). Nothing is raised when admins turned the warning off (CalendarSettings.warn_overlaps).
    The caller saves nothing on the warning; it asks and saves again unchecked once confirmed."""
    from calendars.selectors import outside_working_hours, overlaps, series_overlaps

    settings = CalendarSettings.load()
    if not settings.warn_overlaps or not spans:
        return
    agents = list(agents)
    agent_ids = [agent.pk for agent in agents]
    if series is not None:
        found = series_overlaps(spans, agent_ids, series=series)
    else:
        [(start, end)] = spans
        found = overlaps(start, end, agent_ids, exclude=exclude)
    outside = [] if all_day else outside_working_hours(spans, agents, settings=settings)
    if found or outside:
        raise OverlapWarning(found, dated=series is not None, outside=outside)


def planned_length(request: Request, *, whole: bool = False) -> timedelta:
    """How long a request's planned appointment lasts: its first part's length when booked in
    parts (unless `whole`: booked in one slot), else its estimate, else the default estimate
    (CalendarSettings)."""
    part = None if whole else request.planned_length
    return part or request.estimate or CalendarSettings.load().default_estimate


def _refuse_count_with_until(text: str) -> None:
    """ValidationError({"rule": ...}) for an RRULE or EXRULE line of `text` (RFC 5545 text, one rule
    a line, the "RRULE:" name optional) that ends by both COUNT and UNTIL."""
    for line in text.upper().splitlines():
        parts = {name for name, _ in rule_text_parts(line)}
        if {"COUNT", "UNTIL"} <= parts:
            raise ValidationError(
                {"rule": "A rule ends either after a number of times (COUNT) or on a date (UNTIL), not both; keep one."}
            )


def _parse_rule(rule) -> recurrence_lib.Recurrence:
    if isinstance(rule, recurrence_lib.Recurrence):
        return rule
    text = (rule or "").strip()
    if not text:
        raise ValidationError({"rule": "Give a recurrence rule, for example RRULE:FREQ=WEEKLY;BYDAY=MO."})
    if not text.upper().startswith(("RRULE:", "EXRULE:", "RDATE:", "EXDATE:")):
        text = "RRULE:" + text
    # Out-of-range parts named in words (trial F8: INTERVAL=0 answered dateutil's own text).
    for line in text.splitlines() if checks_ranges() else ():
        problem = rule_part_problem(line) if line.strip().upper().startswith(("RRULE:", "EXRULE:")) else None
        if problem:
            raise ValidationError({"rule": f"The recurrence rule is not valid: {problem}"})
    try:
        return recurrence_lib.deserialize(text, include_dtstart=False)
    except Exception as error:  # django-recurrence raises several kinds for bad text
        # DeserializationError's str() is a Python list; join its text arguments into a sentence.
        reason = "; ".join(str(arg) for arg in error.args if arg) or type(error).__name__
        raise ValidationError({"rule": f"The recurrence rule is not valid: {reason}."}) from error


# --- manual appointments (S1.3) ----------------------------------------------------------


def reminder_fields(minutes: int | None, none: bool) -> dict:
    """An appointment's reminder fields in step: `none` (no reminder, not even the global default)
    leaves no minutes; given minutes (before the start) are a reminder, so not `none`; neither is
    "not set" (the global default). Returns {"reminder_minutes": ..., "no_reminder": ...}."""
    if none:
        return {"reminder_minutes": None, "no_reminder": True}
    return {"reminder_minutes": minutes, "no_reminder": False}


@transaction.atomic
def create_appointment(
    *,
    subject: str,
    start: datetime,
    end: datetime,
    agents: Iterable[Agent],
    by=None,
    note: str = "",
    location: str = "",
    request: Request | None = None,
    all_day: bool = False,
    other_attendees: Iterable[str] = (),
    private: bool = False,
    busy: bool = True,
    reminder_minutes: int | None = None,
    no_reminder: bool = False,
    source: str = Appointment.Source.MANUAL,
    action: Action | None = None,
    part: int | None = None,
    check_overlap: bool = False,
) -> Appointment:
    """One appointment on the calendars of all `agents`.

    `reminder_minutes`: minutes before the start, None: the global default; `no_reminder`: none at
    all, not even the default (minutes then ignored).

    `part`: a later part (2, 3, ...) of work booked in parts on `request`
    (tickets.services.book_split), which booking the request again replaces.
    `check_overlap`: raise OverlapWarning (saving nothing) when a busy entry would overlap on
    one of them; pages and the API ask for it until the user confirms."""
    agents = list(agents)
    appointment = _build_appointment(
        agents=agents,
        subject=subject,
        start=start,
        end=end,
        note=note,
        location=location,
        request=request,
        all_day=all_day,
        other_attendees=other_attendees,
        private=private,
        busy=busy,
        **reminder_fields(reminder_minutes, no_reminder),
        source=source,
        action=action,
        part=part,
        by=by,
    )
    if check_overlap and busy and appointment.end > appointment.start:
        refuse_conflicts([(appointment.start, appointment.end)], agents, all_day=appointment.all_day)
    _validated_save(appointment)
    appointment.agents.set(agents)
    _announce(appointment, Change.CREATED, (), by)
    return appointment


def new_appointment(*, agents: Iterable[Agent], subject: str, start: datetime | date, end: datetime | date, **fields):
    """The appointment `create_appointment` would save, built and validated in Python only (no
    query: field checks and `Appointment.clean`, not the database's unique checks), unsaved, for
    writers that insert many rows at once. Naive times are on the first technician's wall clock,
    dates are days (all-day). Raises ValidationError, as `create_appointment` does.
    """
    appointment = _build_appointment(agents=list(agents), subject=subject, start=start, end=end, **fields)
    bulk.clean_fields(appointment, exclude=_unchecked_fields(appointment))
    appointment.clean()
    return appointment


def _build_appointment(
    *, agents: list[Agent], start: datetime | date, end: datetime | date, by=None, other_attendees=(), **fields
) -> Appointment:
    """The unsaved appointment of `create_appointment`'s arguments (the other fields as given)."""
    _check_agents(agents)
    zone = _zone_of(agents)
    appointment = bulk.new_instance(
        Appointment,
        start=_aware(start, zone),
        end=_aware(end, zone),
        other_attendees=list(other_attendees),
        created_by=by if getattr(by, "pk", None) else None,
        **fields,
    )
    _set_days(appointment, _given(start, appointment.start), _given(end, appointment.end), zone)
    return appointment


@transaction.atomic
def create_appointments(
    *,
    agents: Iterable[Agent],
    one_each: bool,
    rule: str | None = None,
    time_zone: zoneinfo.ZoneInfo | str | None = None,
    **fields,
) -> list[Appointment]:
    """S1.3: for several technicians, one entry each or one shared entry.

    With an RRULE `rule` (S3.7) each entry is the master of a series (`create_recurring_appointment`);
    the masters are returned. Every series repeats on the wall clock of ONE zone, `time_zone`
    (IANA name or ZoneInfo; None: the current zone, the creating user's on a page or the API):
    a meeting is one moment, so the copies of technicians in London and New York stay together
    across the weeks their clocks change apart (trial faults 2 and 9). `time_zone` is unused
    without a rule, and for an all-day series: it repeats on days, the same on every clock, so
    each copy keeps its first technician's midnights (as `create_recurring_appointment` does).
    Raises ValidationError for a rule that gives no occurrence, OverlapWarning as
    `create_appointment`."""
    agents = list(agents)
    _check_agents(agents)
    if rule and fields.get("all_day"):
        make = partial(create_recurring_appointment, rule=rule)
    elif rule:
        zone = zoneinfo.ZoneInfo(str(time_zone or timezone.get_current_timezone_name()))
        make = partial(create_recurring_appointment, rule=rule, time_zone=zone)
    else:
        make = create_appointment
    if not one_each:
        return [make(agents=agents, **fields)]
    made, warnings = [], []
    for agent in agents:
        # Every technician's overlaps and hours, as one shared entry's check names them (trial 3):
        # the ones made are undone with this transaction when any is refused.
        try:
            made.append(make(agents=[agent], **fields))
        except OverlapWarning as warning:
            warnings.append(warning)
    if warnings:
        raise OverlapWarning(
            [overlap for warning in warnings for overlap in warning.overlaps],
            dated=any(warning.dated for warning in warnings),
            outside=[outside for warning in warnings for outside in warning.outside],
        )
    return made


@transaction.atomic
def update_appointment(
    appointment: Appointment,
    *,
    by=None,
    agents: Iterable[Agent] | None = None,
    check_overlap: bool = False,
    next_rule=None,
    time_zone: zoneinfo.ZoneInfo | str | None = None,
    keep_instants: bool = False,
    **changes,
):
    """Change an appointment's fields (and its technicians); keeps its source in step.

    `check_overlap`: when the entry moves or gets other technicians, raise OverlapWarning
    (saving nothing) if it would meet another busy entry of theirs.

    An occurrence edited here is marked as edited on its own; a master's shared fields flow
    to its occurrences that were not, and a master's new start moves the whole series with its
    exceptions (cancelled and moved occurrences, `_move_exceptions`). On a master the returned
    appointment's `dropped_exceptions` lists the original starts (aware, as they were) of the
    exceptions the move dropped because the rule gives no occurrence for them any more (empty
    otherwise): the caller says so to the person who made the change. `next_rule`: the rule
    (as `change_schedule` takes it) the caller gives the series right after, in the same
    transaction, as the edit page and the API do when both change: the moved exceptions are kept
    when that rule gives them (a series moved from Monday to Tuesday and repeating on Tuesdays).
    A whole-series move takes the rule's UNTIL along (`_shift_until`) unless `next_rule` is given.

    `time_zone` (IANA name or ZoneInfo; None or the series' own: unchanged): a series' new clock.
    The series keeps its wall-clock times in the new zone (09:00 stays 09:00, now on the new
    clock), unless a new start is given too (a start equal to the stored one is no new start: the
    edit page sends it back); its exceptions' keys (EXDATE, RECURRENCE-ID), its UNTIL and the
    occurrences that follow the series move with it as for a move (`_move_exceptions`).
    `keep_instants`: with `time_zone`, the series keeps its start's instant on the new clock instead
    (an external calendar that put the series on another zone at the same instants: its rule then
    repeats on the new zone's wall clock from there, RFC 5545 3.3.10).
    Raises ValidationError({"time_zone": ...}) for a zone on anything but a timed series.

    Raises ValidationError({"agents": ...}), saving nothing, for other technicians on an entry
    imported from a technician's own calendar (calendars.ownership: it stays with them).
    """
    if agents is not None:
        agents = list(agents)
        ownership.check_technicians(appointment, agents)
    if "reminder_minutes" in changes or "no_reminder" in changes:
        changes.update(
            reminder_fields(
                changes.get("reminder_minutes", appointment.reminder_minutes),
                changes.get("no_reminder", False if "reminder_minutes" in changes else appointment.no_reminder),
            )
        )
    return _update_appointment(
        appointment,
        by=by,
        agents=agents,
        check_overlap=check_overlap,
        next_rule=next_rule,
        time_zone=time_zone,
        keep_instants=keep_instants,
        **changes,
    )


@transaction.atomic
def leave_appointment(appointment: Appointment, agent: Agent) -> Appointment:
    """The technician leaves the appointment because their external calendar's entry of it is
    gone (deleted there): the one change of an imported entry's technicians the rule of
    calendars.ownership allows, since the calendar that owns it made it. An appointment nobody
    else is on goes. Returns the appointment (unsaved and without pk once gone)."""
    others = list(appointment.agents.exclude(pk=agent.pk))
    if not others:
        delete_appointment(appointment)
        return appointment
    if appointment.is_recurring_master:
        # Occurrences edited on their own keep their own technicians (`_spread_to_occurrences`):
        # the technician leaves those too.
        for occurrence in appointment.occurrences.filter(is_modified=True, is_cancelled=False, agents=agent):
            leave_occurrence(occurrence, agent)
    return _update_appointment(appointment, agents=others)


def leave_occurrence(occurrence: Appointment, agent: Agent) -> Appointment:
    """The technician leaves one occurrence of a series shared with others, because that
    occurrence was cancelled in their own external calendar (an EXDATE or a cancelled instance
    there: an attendee declining one meeting, as Exchange and Google treat it). The occurrence
    stays for its other technicians (it becomes edited on its own, so the series no longer
    overrides its technicians); with nobody else left it is cancelled. A technician not on the
    occurrence changes nothing. Returns the occurrence.

    Raises ValidationError for an appointment that is not an occurrence."""
    if not occurrence.is_occurrence:
        raise ValidationError("Only an occurrence of a recurring appointment can be left on its own.")
    current = list(occurrence.agents.all())
    if all(other.pk != agent.pk for other in current):
        return occurrence
    others = [other for other in current if other.pk != agent.pk]
    if not others:
        return cancel_occurrence(occurrence)
    return _update_appointment(occurrence, agents=others)


def _update_appointment(
    appointment: Appointment,
    *,
    by=None,
    agents: Iterable[Agent] | None = None,
    check_overlap: bool = False,
    next_rule=None,
    time_zone: zoneinfo.ZoneInfo | str | None = None,
    keep_instants: bool = False,
    **changes,
):
    """`update_appointment` without the ownership rule's check."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Cannot change {', '.join(sorted(unknown))} of an appointment.")
    agent_ids_before = _agent_ids(appointment)
    new_agents = list(agents) if agents is not None else None
    if new_agents is not None:
        _check_agents(new_agents)
    on = new_agents if new_agents is not None else list(appointment.agents.all())
    zone = _zone_of(on)
    texts_before = {name: getattr(appointment, name) for name in SERIES_TEXT_FIELDS}
    reminder_before = (appointment.reminder_minutes, appointment.no_reminder)
    span_before = (appointment.start, appointment.end)
    zone_before = _new_series_zone(appointment, time_zone, changes, zone, keep_instants=keep_instants)
    moved = _set_changes(appointment, changes, zone)
    regrouped = new_agents is not None and {agent.pk for agent in new_agents} != set(agent_ids_before)
    if moved and by is not None:
        _refuse_work_logged_ahead(appointment)
    # Asked only about a save that can happen: refusals above come first.
    checked = check_overlap and appointment.busy and (moved or regrouped) and appointment.end > appointment.start
    if checked and not appointment.is_recurring_master:  # a series is checked on all its occurrences below
        spans = [(appointment.start, appointment.end)]
        refuse_conflicts(spans, on, exclude=appointment.pk, all_day=appointment.all_day)
    _mark_edited(appointment)
    _validated_save(appointment)
    if new_agents is not None:
        appointment.agents.set(new_agents)
    _keep_source_in_step(appointment)
    if appointment.is_recurring_master:
        if zone_before is not None:
            appointment.schedule.save(update_fields=["time_zone", "zone_block"])
        appointment.dropped_exceptions = _spread_to_occurrences(
            appointment,
            moved=moved,
            agents=new_agents,
            span_before=span_before,
            next_rule=next_rule,
            zone_before=zone_before,
        )
        _spread_texts_to_edited_occurrences(appointment, texts_before)
        _spread_reminder_to_edited_occurrences(appointment, reminder_before)
        if checked:
            # Every occurrence where it now falls (trial fault: only the master's new time was asked).
            _refuse_series_overlaps(appointment, on)
    if regrouped and appointment.request_id and by is not None:
        _record_reassignment(appointment, agent_ids_before, new_agents, by=by, moved=moved, zone=zone)
    _announce(appointment, Change.MOVED if moved else Change.UPDATED, agent_ids_before, by)
    return appointment


def _new_series_zone(
    appointment: Appointment, time_zone: tzinfo | str | None, changes: dict, zone: tzinfo, *, keep_instants=False
) -> tzinfo | None:
    """A series' new clock (`update_appointment`'s `time_zone`: an IANA zone, or the series' own
    `schedule_zone` object for none), set on its schedule (unsaved): returns the zone it had, or
    None when it keeps it. A series on its own VTIMEZONE (`Schedule.zone_block`) given an IANA
    zone moves to that zone and drops the block. Without a new start or end (`changes`,
    naive times read on `zone`; one equal to the stored one is none) the master keeps its
    wall-clock start and its length on the new clock (set in `changes`). Raises
    ValidationError({"time_zone": ...}) for a zone on anything but a timed series."""
    if time_zone is None:
        return None
    if not appointment.is_recurring_master:
        raise ValidationError({"time_zone": "Only a series has a time zone: the clock it repeats on."})
    before = schedule_zone(appointment.schedule)
    if not isinstance(time_zone, str | zoneinfo.ZoneInfo):
        return None  # its own `schedule_zone`, given back as it is (the edit form's default): kept
    new = zoneinfo.ZoneInfo(str(time_zone))
    if not appointment.schedule.zone_block and new.key == before.key:
        return None
    if appointment.all_day or changes.get("all_day"):
        raise ValidationError(
            {"time_zone": "An all-day series repeats on days, the same on every clock: it has no time zone."}
        )
    stored = {"start": appointment.start, "end": appointment.end}
    if not keep_instants and all(
        changes.get(name) is None or _aware(changes[name], zone) == stored[name] for name in stored
    ):
        start = times.wall_shifted(
            appointment.start, timedelta(0), new, before
        )  # the same wall-clock time on the new clock
        changes.update(start=start, end=times.end_after(start, times.exact_length(appointment.start, appointment.end)))
    appointment.schedule.time_zone = new
    appointment.schedule.zone_block = ""  # an IANA zone chosen replaces the series' own VTIMEZONE
    return before


def _refuse_work_logged_ahead(appointment: Appointment) -> None:
    """An entry of logged work moved by a person (a drag, the API, a page) moves its action's start,
    which may not lie ahead of now (tickets.models.Action.starts_ahead, trial 18): raise
    ValidationError({"start": ...}) before anything is saved. The sync (by=None) is not refused:
    a technician's own calendar is where the entry lives, and a refused pull would fail for ever."""
    if appointment.source != Appointment.Source.ACTION or not appointment.action_id:
        return
    if Action.starts_ahead(appointment.start):
        raise ValidationError(
            {"start": "This entry is logged work: it cannot start in the future (work is logged once it has started)."}
        )


def _record_reassignment(appointment, agent_ids_before, new_agents, *, by, moved: bool, zone) -> None:
    """A line in the request's history for an appointment of it given to other technicians by a
    person (a drag on the group calendar, the API, a page): `record_reassignment`, with where it
    moved to when it moved."""
    moved_to = appointment.start if moved else None
    record_reassignment(appointment.request_id, agent_ids_before, new_agents, by=by, zone=zone, moved_to=moved_to)


def reassignment_words(agent_ids_before: Iterable[int], new_agents: Iterable[Agent]) -> str:
    """What a change of technicians is called, on the request's history and in the message after
    a booking: "Reassigned from Alice Jansen to Bob de Vries" (the technicians taken off, then the
    new ones; "nobody" / "nobody new" when none); "" when the technicians are the same."""
    before, after_ids = set(agent_ids_before), {agent.pk for agent in new_agents}
    if before == after_ids:
        return ""
    names = {agent.pk: agent.name for agent in Agent.objects.filter(pk__in={*before, *after_ids})}
    left = ", ".join(sorted(names[pk] for pk in before - after_ids)) or "nobody"
    came = ", ".join(sorted(names[pk] for pk in after_ids - before)) or "nobody new"
    return f"Reassigned from {left} to {came}"


def record_reassignment(
    request_id: int,
    agent_ids_before: Iterable[int],
    new_agents: Iterable[Agent],
    *,
    by,
    zone: tzinfo,
    moved_to: datetime | None = None,
) -> None:
    """A line in request `request_id`'s history for its work given to other technicians by the
    person `by` (a drag on the group calendar, the API, a page, a booking through "Find a slot"):
    "Reassigned from Alice Jansen to Bob de Vries by Cees on Tue 1 Dec 2026 09:12 CET, moved to Wed 2
    Dec 2026 14:00 CET" (`moved_to`, aware, when the time changed too), its times kept as instants
    and written on each reader's clock (the stored text: on `zone`'s, the new technicians'). No line
    when the technicians are the same. A technician leaving through their own calendar's deletion
    is logged by the sync (by=None), not here."""
    from tickets import services as ticket_services  # tickets.services imports this module

    words = reassignment_words(agent_ids_before, new_agents)
    if not words:
        return
    who = getattr(by, "get_full_name", lambda: "")() or getattr(by, "username", str(by))
    text = f"{words} by {who} on {history_moment(timezone.now())}"
    if moved_to is not None:
        text += f", moved to {history_moment(moved_to)}"
    ticket_services.record_history(request_id, text, zone=zone)


# An occurrence edited on its own (moved, say) keeps what it changed, but a text it still shares with
# its series follows the series, as Outlook and Google show a renamed series' moved occurrences.
SERIES_TEXT_FIELDS = ("subject", "note", "location")


def _spread_texts_to_edited_occurrences(master: Appointment, before: dict[str, str]) -> None:
    """Give the master's new subject, note or location to its edited occurrences that still held
    the old one (`before`: the master's texts before the change)."""
    for name, old in before.items():
        new = getattr(master, name)
        if new != old:
            master.occurrences.filter(is_modified=True, **{name: old}).update(**{name: new})


def _spread_reminder_to_edited_occurrences(master: Appointment, before: tuple[int | None, bool]) -> None:
    """Give the master's new reminder to its edited occurrences (moved, renamed) that still held the
    old one (`before`: the master's (reminder_minutes, no_reminder) before the change): a reminder
    an occurrence did not set itself follows its series, as its texts do (trial item 3: every alarm
    of a series removed on the phone left its moved occurrences with the default reminder)."""
    now = (master.reminder_minutes, master.no_reminder)
    if now != before:
        held = master.occurrences.filter(is_modified=True, reminder_minutes=before[0], no_reminder=before[1])
        held.update(reminder_minutes=now[0], no_reminder=now[1])


def _mark_edited(appointment: Appointment) -> set[str]:
    """An edit's bookkeeping on the instance (unsaved): its SEQUENCE goes up (RFC 5545 3.8.7.4) and an
    occurrence becomes modified (kept apart from its series). Returns the fields it set besides
    `sequence`."""
    appointment.sequence += 1
    if appointment.is_occurrence:
        appointment.is_modified = True
        return {"is_modified"}
    return set()


def _set_changes(appointment: Appointment, changes: dict, zone: zoneinfo.ZoneInfo) -> bool:
    """Set `changes` on the instance as `update_appointment` takes them (naive times on `zone`'s
    wall clock, an all-day entry's days kept); returns whether its start or end moved."""
    old_start, old_end = appointment.start, appointment.end
    old_days = (appointment.start_date, appointment.end_date)
    for name, value in changes.items():
        if name in ("start", "end"):
            value = _aware(value, zone)
        setattr(appointment, name, value)
    if {"start", "end", "all_day"} & set(changes) or (appointment.all_day and not old_days[0]):
        _set_days(
            appointment,
            _given(changes.get("start"), appointment.start),
            _given(changes.get("end"), appointment.end),
            zone,
        )
    return appointment.start != old_start or appointment.end != old_end


# Columns `changed_appointment` may write besides the changed fields themselves.
_CHANGE_BOOKKEEPING = ("start", "end", "start_date", "end_date", "sequence", "updated_at")


def changed_appointment(appointment: Appointment, *, zone: zoneinfo.ZoneInfo, **changes) -> tuple[Appointment, set]:
    """What `update_appointment(appointment, **changes)` would save for an appointment that is
    not a series' master, set on a copy (`appointment` itself is left as it was) and validated in
    Python only (field checks and `Appointment.clean`, no query), unsaved, for writers that
    update many rows at once (`save_changed`). `zone`: its technicians' zone (naive times are
    read there). Returns the copy and the names of the fields to write.

    Unlike `update_appointment` it sends no `appointment_changed`, keeps no planned request or
    action in step and changes no technicians: only for changes nobody else must hear of.
    Raises TypeError for a field `update_appointment` does not change or a series' master,
    ValidationError as `update_appointment` does.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown or appointment.is_recurring_master:
        raise TypeError(f"Cannot change {', '.join(sorted(unknown)) or 'a series'} here.")
    changed = copy.copy(appointment)  # Model.__reduce__ copies its state: the original stays as read
    _set_changes(changed, changes, zone)
    fields = {*changes, *_CHANGE_BOOKKEEPING, *_mark_edited(changed)}
    changed.updated_at = timezone.now()  # bulk_update does not run auto_now
    changed.clean_fields(exclude=_unchecked_fields(changed))
    changed.clean()
    return changed, fields


def save_changed(appointments: list[Appointment], fields: Iterable[str]) -> int:
    """Write `fields` of many appointments from `changed_appointment` at once (one
    UPDATE a batch of rows, `helpdesk.bulk.update`). Sends no signal. Returns the number of rows
    matched; raises what the database raises (IntegrityError for a row its constraints refuse)."""
    return bulk.update(appointments, sorted(fields))


def delete_imported(appointment_ids: Iterable[int]) -> int:
    """Delete imported appointments (and a series' occurrences, schedule and technicians with
    them) in a fixed number of statements, sending no `appointment_changed`: only for entries
    whose deletion nobody else must hear of (on their own technician's calendar alone). Rows that
    are not imported (`Source.EXTERNAL`) or are occurrences are left alone. Returns the number
    of appointment rows deleted, occurrences included."""
    ids = list(appointment_ids)
    if not ids:
        return 0
    rows = Appointment.objects.filter(pk__in=ids, source=Appointment.Source.EXTERNAL, master__isnull=True)
    return rows.delete()[1].get(Appointment._meta.label, 0)


@transaction.atomic
def reassign_appointment(
    appointment: Appointment, *, from_agent: Agent | None, to_agent: Agent, by=None, check_overlap: bool = False
):
    """Move an appointment from one technician's calendar to another's (the reassign action);
    `check_overlap` as for update_appointment. Raises ValidationError({"to_agent": ...}), saving
    nothing, as `agents_after_move` does."""
    agents = agents_after_move(appointment, from_agent=from_agent, to_agent=to_agent)
    return update_appointment(appointment, by=by, agents=agents, check_overlap=check_overlap)


def agents_after_move(appointment: Appointment, *, from_agent: Agent | None, to_agent: Agent) -> list[Agent]:
    """The technicians of `appointment` once it moves from `from_agent`'s calendar to `to_agent`'s:
    `from_agent` swapped for `to_agent`, the others kept (`from_agent` None: `to_agent` joins). The
    one rule of a move between technicians, for every path that makes one: the group calendar's
    drag (the API's PATCH with `from_agent`/`to_agent`) and the reassign action.

    Raises ValidationError({"to_agent": "<name> is already on it."}) when `to_agent` is already on
    it and `from_agent` is another technician: the move would only take `from_agent` off the entry
    (trial 4); a technician is taken off an entry by editing its technicians, not by a move."""
    current = list(appointment.agents.all())
    if from_agent is not None and from_agent.pk != to_agent.pk and to_agent.pk in {a.pk for a in current}:
        raise ValidationError({"to_agent": f"{to_agent} is already on it."})
    kept = [agent for agent in current if from_agent is None or agent.pk != from_agent.pk]
    return kept if to_agent.pk in {agent.pk for agent in kept} else [*kept, to_agent]


@transaction.atomic
def delete_appointment(appointment: Appointment, *, by=None, follows: bool = False) -> None:
    """Remove an appointment; an occurrence is cancelled instead, so the rule does not bring it back.

    Removing the entry of a planned request unplans the request and removes its later parts
    (`remove_later_parts`); removing an action's entry takes the action off the calendar (the
    action itself stays in the work log). `follows`: the deletion follows from another change
    (calendars.signals), so even the external calendar a pulled change came from hears of it.
    """
    if appointment.is_occurrence:
        cancel_occurrence(appointment, by=by)
        return
    if appointment.source == Appointment.Source.PLANNED and appointment.request_id:
        # The first part goes: the request is unplanned, and its later parts go with it.
        Request.objects.filter(pk=appointment.request_id).update(
            planned_start=None, planned_length=None, updated_at=timezone.now()
        )
        remove_later_parts(appointment.request_id, by=by)
    elif appointment.source == Appointment.Source.ACTION and appointment.action_id:
        Action.objects.filter(pk=appointment.action_id).update(add_to_calendar=False, updated_at=timezone.now())
    _remove(appointment, by=by, follows=follows)


@dataclass(frozen=True)
class RemovedPart:
    """A later part of work booked in parts (`Appointment.part`), as it was when it was removed."""

    part: int
    subject: str
    start: datetime  # aware, as stored (UTC on PostgreSQL)
    end: datetime
    # Changed since it was booked (moved, renamed, other technicians: on a page, the API, the admin
    # or in an external calendar): every edit raises the appointment's SEQUENCE, booking does not.
    edited: bool

    @classmethod
    def of(cls, appointment: Appointment) -> "RemovedPart":
        """The later part `appointment` as it is now (before it goes)."""
        edited = appointment.sequence > 0
        return cls(appointment.part, appointment.subject, appointment.start, appointment.end, edited)

    def describe(self, zone: zoneinfo.ZoneInfo) -> str:
        """'part 2 "#12 Server move (part 2 of 3)" Tue 3 Mar 2026 08:00-12:00' (an en dash), times on `zone`'s wall
        clock in the pages' one format (helpdesk.moments), with ", changed by hand since it was
        booked" when it was."""
        text = f'part {self.part} "{self.subject}" {span_text(self.start, self.end, zone)}'
        return text + (", changed by hand since it was booked" if self.edited else "")


def remove_later_parts(request: Request | int, *, by=None) -> list[RemovedPart]:
    """Delete the later parts of the work booked in parts on `request` (a Request or its id):
    the appointments with a `part` number, each through `delete_appointment`, so its technicians'
    external calendars and feeds lose it too (queued on commit). Call it inside the transaction
    of the booking that replaces them. Returns what was removed, by part number; [] when none."""
    request_id = getattr(request, "pk", request)
    parts = Appointment.objects.filter(request_id=request_id, part__isnull=False, master__isnull=True)
    removed = []
    for appointment in parts.order_by("part", "start", "id"):
        removed.append(RemovedPart.of(appointment))
        # Removed with a booking or a plan, never asked for itself: every calendar must hear of it.
        delete_appointment(appointment, by=by, follows=True)
    return removed


def _remove(appointment: Appointment, *, by, follows: bool = False) -> None:
    for occurrence in appointment.occurrences.all() if appointment.is_recurring_master else ():
        _announce(occurrence, Change.DELETED, _agent_ids(occurrence), by, follows=follows)
    _announce(appointment, Change.DELETED, _agent_ids(appointment), by, follows=follows)
    appointment.delete()


def _keep_source_in_step(appointment: Appointment) -> None:
    """A planned or action appointment moved on the calendar moves its source too."""
    agents = list(appointment.agents.all())
    # Exact time between the two instants: aware datetimes on one zone subtract on the wall clock,
    # which counts the DST night's hour twice or not at all (trial 2, N1).
    duration = appointment.end.astimezone(UTC) - appointment.start.astimezone(UTC)
    if appointment.source == Appointment.Source.PLANNED and appointment.request_id:
        request = appointment.request
        if request.planned_length is not None:
            # The first part of split work: its length is the part's, the estimate the whole work's.
            if request.planned_start != appointment.start or request.planned_length != duration:
                request.planned_start, request.planned_length = appointment.start, duration
                request.save(update_fields=["planned_start", "planned_length", "updated_at"])
        else:
            estimate = request.estimate or CalendarSettings.load().default_estimate
            if request.planned_start != appointment.start or estimate != duration:
                request.planned_start = appointment.start
                if estimate != duration:
                    request.estimate = duration
                request.save(update_fields=["planned_start", "estimate", "updated_at"])
        if set(request.assigned_agents.values_list("id", flat=True)) != {a.pk for a in agents}:
            request.assigned_agents.set(agents)
    elif appointment.source == Appointment.Source.ACTION and appointment.action_id:
        action = appointment.action
        action.done_at = appointment.start
        action.time_taken = duration
        if agents and action.agent_id not in {a.pk for a in agents}:
            action.agent = agents[0]
        action.save(update_fields=["done_at", "time_taken", "agent", "updated_at"])


# --- appointments from planned requests and actions (S1.1, S1.2, S1.4) -------------------


def _planned_subject(request: Request) -> str:
    return f"#{request.pk} {request.summary}"[:255]


@transaction.atomic
def sync_planned_appointment(request: Request, *, by=None, check_overlap: bool = False) -> Appointment | None:
    """Create, move or remove the appointment of a request's planned date (S1.1, S1.4).
    `check_overlap`: raise OverlapWarning (saving nothing of it) when the planned time would
    double-book a technician (issue 15), as `create_appointment` and `update_appointment` do."""
    existing = Appointment.objects.filter(request=request, source=Appointment.Source.PLANNED).first()
    agents = list(request.assigned_agents.all())
    if request.planned_start is None:
        # Unplanned: work booked in parts is no longer booked, its later parts go too.
        remove_later_parts(request, by=by)
        if request.planned_length is not None:
            request.planned_length = None
            Request.objects.filter(pk=request.pk).update(planned_length=None)
    if request.planned_start is None or not agents:
        if existing:
            _remove(existing, by=by)
        return None
    # Work split over several days plans its first part here (tickets.services.book_split).
    length = planned_length(request)
    fields = {
        "subject": _planned_subject(request),
        "start": request.planned_start,
        # Exact hours (RFC 5545 3.3.6), not wall clock; in UTC, as aware datetimes on one zone compare
        # on the wall clock too (an end in the repeated autumn hour is not "after" a start before it).
        "end": request.planned_start.astimezone(UTC) + length,
        "location": request.site[:255],
    }
    if existing is None:
        return create_appointment(
            agents=agents,
            source=Appointment.Source.PLANNED,
            request=request,
            by=by,
            check_overlap=check_overlap,
            **fields,
        )
    unchanged = all(getattr(existing, k) == v for k, v in fields.items()) and _agent_ids(existing) == {
        a.pk for a in agents
    }
    if unchanged:
        return existing
    return update_appointment(existing, agents=agents, by=by, check_overlap=check_overlap, **fields)


@transaction.atomic
def sync_action_appointment(action: Action, *, by=None) -> Appointment | None:
    """Create, move or remove the appointment of an action (S1.2, S1.4)."""
    existing = Appointment.objects.filter(action=action).first()
    if not action.add_to_calendar or not action.time_taken:
        if existing:
            _remove(existing, by=by)
        return None
    fields = {
        "subject": _planned_subject(action.request),
        "note": action.note,
        "start": action.done_at,
        "end": action.done_at.astimezone(UTC) + action.time_taken,
    }
    if existing is None:
        return create_appointment(
            agents=[action.agent],
            source=Appointment.Source.ACTION,
            request=action.request,
            action=action,
            by=by,
            **fields,
        )
    if all(getattr(existing, k) == v for k, v in fields.items()) and _agent_ids(existing) == {action.agent_id}:
        return existing
    return update_appointment(existing, agents=[action.agent], by=by, **fields)


# --- recurring appointments ----------------------------------------------------------------


def check_rule(
    rule,
    *,
    start: datetime,
    zone: zoneinfo.ZoneInfo | None = None,
    all_cancelled: bool = False,
    cost_checked: bool = False,
) -> recurrence_lib.Recurrence:
    """The parsed rule, or a ValidationError saying why it cannot be used from `start`.

    A rule a person gives with both COUNT and UNTIL is refused (RFC 5545 3.3.10: they MUST NOT
    occur together; django-recurrence would keep COUNT and drop UNTIL without a word); the sync
    takes such a rule from a calendar with COUNT alone (integrations.sync.inbound._one_end).

    `all_cancelled`: a series whose every start is cancelled (EXDATE) is taken as it is. An
    external calendar keeps such a series and shows nothing of it (RFC 5545 3.8.5.1: EXDATEs
    are taken out of the set RRULE and RDATE give, which may leave it empty); the helpdesk
    keeps it too, so the entry stays linked. The rule without its EXDATEs must still give a start.

    A rule that repeats more than MAX_OCCURRENCES_A_YEAR times in the year occurrences are made
    for is refused too, unless the caller counted already (`cost_checked`: the import does).
    """
    if isinstance(rule, str):
        _refuse_count_with_until(rule)
    parsed = _parse_rule(rule)
    zone = zone or zoneinfo.ZoneInfo(timezone.get_current_timezone_name())
    local = _aware(start, zone).astimezone(zone).replace(tzinfo=None)
    given = parsed
    if all_cancelled:
        given = recurrence_lib.Recurrence(
            rrules=parsed.rrules, exrules=parsed.exrules, rdates=parsed.rdates, include_dtstart=False
        )
    with timezone.override(zone):
        first = given.after(local, inc=True, dtstart=local)
        if first is None:
            raise ValidationError(
                {"rule": "This rule gives no occurrence after the start; check its days and end date."}
            )
        # Every occurrence up to the horizon is a row: a FREQ=MINUTELY rule would make half a
        # million. Walked lazily (the one walker): about MAX_OCCURRENCES_A_YEAR steps at most a year the
        # series has run; an upper bound, EXDATEs not taken off, as the import counts.
        if cost_checked:
            return parsed
        rules = [recurrence_lib.serialize(rule) for rule in parsed.rrules]
        # Only the span kept counts, however old the series: the one the occurrences are made for.
        first_kept, last_kept = kept_span_on_wall_clock(_aware(start, zone), timezone.now(), zone)
        starts = times.starts_in_span(
            local, rules, first=first_kept, last=last_kept, limit=MAX_OCCURRENCES_A_YEAR, year=RECURRENCE_HORIZON
        )
        if starts + len(parsed.rdates) > MAX_OCCURRENCES_A_YEAR:
            raise ValidationError({"rule": too_many_starts_text()})
    return parsed


def block_zone(zone_block: str) -> tzinfo:
    """The zone of a series' own VTIMEZONE text (`ical_zones.zone_from_block`), for a series about
    to keep it (`Schedule.zone_block`). Raises ValidationError({"zone_block": ...}) saying why
    icalendar cannot read it or it is too long."""
    try:
        from calendars import ical_zones  # icalendar: only for such a series (a command's start-up)

        return ical_zones.zone_from_block(zone_block)
    except ValueError as error:
        raise ValidationError({"zone_block": f"The series' time zone cannot be kept: {error}."}) from error


@transaction.atomic
def create_recurring_appointment(
    *,
    rule,
    agents: Iterable[Agent],
    start: datetime,
    end: datetime,
    time_zone=None,
    now=None,
    all_cancelled: bool = False,
    zone_block: str = "",
    **fields,
) -> Appointment:
    """A recurring master and its occurrences for the coming year.

    `rule` is an RRULE (text or a django-recurrence Recurrence); it repeats on the wall clock
    of `time_zone`, by default the first technician's, or with `zone_block` (the text of a
    VTIMEZONE no IANA zone matches, from an external calendar, its observances checked by the
    reader) on that block's (`Schedule.zone_block`; `time_zone` is then ignored and kept as UTC).
    ValidationError({"zone_block": ...}) for a block icalendar cannot read. `all_cancelled`: see `check_rule`. With
    `check_overlap=True` (in `fields`) an OverlapWarning naming the day of each overlap is raised,
    and nothing kept, when any occurrence made meets another busy entry of the technicians (S6.3).
    """
    agents = list(agents)
    _check_agents(agents)
    if zone_block:
        zone, time_zone = block_zone(zone_block), zoneinfo.ZoneInfo("UTC")
    else:
        zone = time_zone = zoneinfo.ZoneInfo(str(time_zone)) if time_zone else _zone_of(agents)
    start, end = _aware(start, zone), _aware(end, zone)
    if not fields.get("all_day") and fields.get("source") != Appointment.Source.EXTERNAL:
        # The second 02:30 of an autumn night: the rule repeats the wall clock's first one (review 7 F4).
        # An imported series keeps the external calendar's start (a later push would move it there).
        start, end = times.series_start(start, end, zone)
    rule = check_rule(rule, start=start, zone=zone, all_cancelled=all_cancelled)
    # Checked on every occurrence made, not only on the first (the master's own span).
    check_overlap = fields.pop("check_overlap", False)
    master = create_appointment(agents=agents, start=start, end=end, **fields)
    Schedule.objects.create(master=master, recurrence=rule, time_zone=time_zone, zone_block=zone_block)
    master.refresh_from_db()
    materialise_occurrences(master, now=now)
    if check_overlap and master.busy:
        _refuse_series_overlaps(master, agents)
    return master


def _refuse_series_overlaps(master: Appointment, agents: list[Agent], *, leave_out: Iterable[int] = ()) -> None:
    """`refuse_conflicts` for every occurrence of the series (but those with ids in `leave_out`:
    already there, already confirmed); the caller's transaction then keeps nothing."""
    occurrences = master.occurrences.filter(is_cancelled=False).exclude(pk__in=list(leave_out))
    spans = list(occurrences.values_list("start", "end"))
    refuse_conflicts(spans, agents, series=master.pk, all_day=master.all_day)


@transaction.atomic
def make_recurring(appointment: Appointment, *, rule, time_zone=None, by=None, now=None) -> Appointment:
    """Turn a single appointment into the master of a series."""
    if appointment.is_occurrence or appointment.is_recurring_master:
        raise ValidationError("This appointment already belongs to a series.")
    zone = zoneinfo.ZoneInfo(str(time_zone)) if time_zone else _zone_of(list(appointment.agents.all()))
    if not appointment.all_day:
        # The second 02:30 of an autumn night: the rule repeats the wall clock's first one (review 7 F4).
        appointment.start, appointment.end = times.series_start(appointment.start, appointment.end, zone)
    Schedule.objects.create(
        master=appointment, recurrence=check_rule(rule, start=appointment.start, zone=zone), time_zone=zone
    )
    start, end = appointment.start, appointment.end
    appointment.refresh_from_db()
    appointment.start, appointment.end = start, end
    appointment.sequence += 1
    appointment.save(update_fields=["start", "end", "sequence", "updated_at"])
    materialise_occurrences(appointment, now=now, by=by)
    _announce(appointment, Change.UPDATED, _agent_ids(appointment), by)
    return appointment


@transaction.atomic
def change_schedule(
    master: Appointment,
    *,
    rule,
    by=None,
    now=None,
    check_overlap: bool = False,
    cancelled_as_given: bool = False,
    staged: bool = False,
) -> Appointment:
    """A new rule for a series: `rule` is RRULE text (RFC 5545 3.3.10, "FREQ=..." or "RRULE:..."
    lines, EXDATE/RDATE lines too) or a django-recurrence Recurrence, repeating on the schedule's
    wall clock from the master's start. The one way a series' rule changes: admin, the API, the
    edit page and a pull from an external calendar all come here.

    Occurrences the new rule still gives keep their state: made ones stay as they are (cancelled
    or moved on their own included) and starts cancelled before they were made (EXDATE) stay
    cancelled. Occurrences it no longer gives go, also those cancelled or moved on their own, and
    so do kept edits of occurrences not made yet (`Schedule.future_exceptions`): what Outlook and
    Google do (RFC 5545 3.8.5.1 and 3.8.4.4: an EXDATE or RECURRENCE-ID names an instance of the
    set the rule gives). Occurrences before the import window stay (`materialise_occurrences`).
    New starts get their occurrences; every change is announced, so the series reaches the
    external calendars as one entry on commit.

    `cancelled_as_given`: the rule's EXDATE lines are the whole set of cancelled starts (admin's
    rule field and a pull hold the whole rule, EXDATEs included): a kept cancellation they leave
    out is undone rather than kept.
    `staged`: the EXDATEs are set on the series' current rule as a step before its rule changes
    (`_keep_cancelled_as_given`): those the current rule does not give are kept for the new one,
    not dropped as naming nothing.
    `check_overlap`: raise OverlapWarning naming the day of each overlap (keeping nothing) when an
    occurrence of the new rule meets another busy entry of the technicians (S6.3).
    Raises ValidationError({"rule": ...}), changing nothing, for a rule that cannot be read or
    gives no occurrence from the master's start.

    Returns the master.
    """
    schedule = master.schedule
    zone = schedule_zone(schedule)
    given = check_rule(rule, start=master.start, zone=zone)
    old_cancelled = cancelled_starts(schedule)
    old_edits = list(schedule.future_exceptions or [])
    edit_starts = [datetime.fromisoformat(entry["original_start"]) for entry in old_edits]
    # The new rule's whole set (its own EXDATEs aside) decides which kept cancellations and edits
    # still name one of its occurrences.
    schedule.recurrence = given
    whole = _without_exdates(schedule)  # the EXDATEs change below; the set they are taken from does not
    kept = _starts_given(master, whole, [*old_cancelled, *edit_starts])
    given_exdates = exdate_instants(given, zone)
    # An EXDATE names an instance of the set the rule gives (RFC 5545 3.8.5.1): one beyond a
    # shortened rule (a phone's earlier UNTIL keeping its EXDATE lines) names nothing, and goes.
    if not staged:
        on_rule = _starts_given(master, whole, given_exdates)
        given_exdates = [moment for moment in given_exdates if moment in on_rule]
    schedule.recurrence = recurrence_lib.Recurrence(
        rrules=given.rrules,
        exrules=given.exrules,
        rdates=given.rdates,
        exdates=sorted({*given_exdates, *(() if cancelled_as_given else (m for m in old_cancelled if m in kept))}),
        include_dtstart=False,
    )
    schedule.future_exceptions = [entry for entry, start in zip(old_edits, edit_starts, strict=True) if start in kept]
    schedule.save(update_fields=["recurrence", "future_exceptions"])
    master.sequence += 1
    master.save(update_fields=["sequence", "updated_at"])
    made_before = set(master.occurrences.values_list("pk", flat=True))
    materialise_occurrences(master, now=now, by=by, prune_against=whole)
    if check_overlap and master.busy:
        _refuse_series_overlaps(master, list(master.agents.all()), leave_out=made_before)
    _announce(master, Change.UPDATED, _agent_ids(master), by)
    return master


@transaction.atomic
def stop_repeating(master: Appointment, *, now: datetime | None = None, by=None) -> Appointment:
    """End a series now and keep its past, as Outlook's "end the series" does: every RRULE of
    the series ends (UNTIL, RFC 5545 3.3.10: inclusive, in UTC for a zoned DTSTART; COUNT
    dropped) at the last start the series gives before `now` (aware; an occurrence under way
    now stays), and RDATEs after it go. It is a rule change through `change_schedule`: later
    occurrences go with their own edits, earlier ones stay as they are, and each external
    calendar gets the same one entry with the ended rule, not a deletion per occurrence.

    Returns the master, unchanged when the series gives no start from `now` on (ended already).
    Raises ValidationError({"recurrence": ...}) when `master` is not a series' master, or when
    the series has not begun before `now` (nothing to keep: delete the series instead).
    """
    if not master.is_recurring_master:
        raise ValidationError({"recurrence": "Only a recurring series can stop repeating; this one does not repeat."})
    now = now or timezone.now()
    last, upcoming = series_starts_around(master, now)
    if last is None:
        raise ValidationError(
            {"recurrence": "This series has not begun yet, so there is nothing to keep: delete the series instead."}
        )
    if upcoming is None:
        return master  # ended already
    return change_schedule(master, rule=_rule_ended_at(master, last), by=by, now=now)


def _rule_ended_at(master: Appointment, last: datetime) -> recurrence_lib.Recurrence:
    """The series' rule ending at `last` (aware, a start it gives): every RRULE gets UNTIL there
    (RFC 5545 3.3.10: inclusive, in UTC for a zoned DTSTART; COUNT dropped, as the two may not
    both be given) unless it ends earlier, and RDATEs and EXDATEs after it go (RFC 5545 3.8.5.1:
    an EXDATE names an instance the set gives)."""
    zone = schedule_zone(master.schedule)
    rule = master.schedule.recurrence
    rules = []
    for each in rule.rrules:
        ended = copy.copy(each)
        if ended.until is None or rule_instant(ended.until, zone) > last:
            ended.until, ended.count = last.astimezone(UTC), None
        rules.append(ended)
    return recurrence_lib.Recurrence(
        rrules=rules,
        exrules=rule.exrules,
        rdates=[moment for moment in rule.rdates if rule_instant(moment, zone) <= last],
        exdates=[moment for moment in rule.exdates if rule_instant(moment, zone) <= last],  # later: no instance
        include_dtstart=False,
    )


def _series_edit_problems(appointment: Appointment, recurrence, stop: bool) -> dict[str, str]:
    """Why `edit_appointment` cannot take this `recurrence` or `stop_repeating` (empty if it can),
    by the name of the part refused."""
    if stop:
        if recurrence is not None:
            return {"stop_repeating": "Stop a series with `stop_repeating` or give it a new `recurrence`, not both."}
        if not appointment.is_recurring_master:
            return {"stop_repeating": "Only a series' master stops repeating (PATCH it on the series)."}
    if recurrence is None:
        return {}
    if appointment.is_occurrence:
        return {
            "recurrence": f"An occurrence follows its series' rule: change the rule on the series "
            f"({appointment.master_id}); move or cancel this occurrence on its own instead."
        }
    if not appointment.is_recurring_master:
        return {
            "recurrence": "A series is made with its first appointment (POST with `recurrence`); this one stays single."
        }
    if isinstance(recurrence, str) and not recurrence.strip():
        return {"recurrence": "A series keeps a rule: give the new one, end it with UNTIL, or delete the series."}
    return {}


@transaction.atomic
def edit_appointment(
    appointment: Appointment,
    *,
    by=None,
    agents: Iterable[Agent] | None = None,
    recurrence=None,
    stop: bool = False,
    check_overlap: bool = False,
    time_zone: zoneinfo.ZoneInfo | str | None = None,
    cancelled_as_given: bool = False,
    **changes,
) -> Appointment:
    """Save one edit of an appointment as a person makes it on its page, with the API's PATCH
    and PUT or in the admin: its fields and technicians (`update_appointment`, `changes` as it takes them), then,
    on a series' master, a new rule (`change_schedule`) or the series' end now (`stop_repeating`).
    One transaction: an OverlapWarning or ValidationError of any step keeps nothing of the others.

    `recurrence`: None keeps the rule; RRULE text (RFC 5545 3.3.10, as `calendars.series_words.
    rule_text` writes it) or a django-recurrence Recurrence is the series' new rule. Text equal to
    the rule as it is changes nothing (a client sending back what it read). `stop`: end the
    series now (`stop_repeating`). With neither, or with other changes, the fields are
    saved even when `changes` is empty (the sequence and the announcement follow, as on a save).
    `time_zone`: a series' new clock, its wall-clock times kept (`update_appointment`).
    `cancelled_as_given`: `recurrence` is the whole rule as the admin's field holds it, its EXDATE
    lines the whole set of cancelled starts written against the series as it is before this edit:
    they are kept first (a line taken out un-cancels that day, `change_schedule`), then move with
    the series by the edit like every other exception (`_move_exceptions`: one path for admin, the
    pages and the API), and those the edited series no longer gives are named in `dropped_exceptions`.

    Returns the appointment, with `dropped_exceptions`: the original starts (aware) of the exceptions a move of the
    whole series could not carry (see `_move_exceptions`). Raises, saving nothing, ValidationError({"recurrence":
    ...}) for a rule on an occurrence or a single appointment, an empty rule, or one `change_schedule` refuses;
    ValidationError({"stop_repeating": ...}) for `stop` with a rule too, on anything but a master, or on a series
    not begun; OverlapWarning (with `check_overlap`) as `update_appointment` and `change_schedule` raise it;
    ValidationError from `update_appointment` as it raises it.
    """
    from calendars.series_words import rule_text

    problems = _series_edit_problems(appointment, recurrence, stop)
    if problems:
        raise ValidationError(problems)
    if cancelled_as_given and recurrence is not None:
        recurrence = _keep_cancelled_as_given(appointment, recurrence, by=by)
    if isinstance(recurrence, str) and recurrence.strip() == rule_text(appointment):
        recurrence = None  # the rule as it is (a PUT of what was read): nothing to change
    rule = recurrence.strip() if isinstance(recurrence, str) else recurrence
    rule = series_rule_after_move(appointment, rule, agents=agents, changes=changes)
    span_before, agent_ids_before = (appointment.start, appointment.end), set(_agent_ids(appointment))
    dropped: list[datetime] = []
    if changes or agents is not None or time_zone is not None or (recurrence is None and not stop):
        appointment = update_appointment(
            appointment,
            by=by,
            agents=agents,
            # With a rule to follow, the series is checked once it has it (below).
            check_overlap=check_overlap and rule is None,
            next_rule=rule,
            time_zone=time_zone,
            **changes,
        )
        dropped = getattr(appointment, "dropped_exceptions", [])
    if rule is not None:
        redrawn = (appointment.start, appointment.end) != span_before or set(
            _agent_ids(appointment)
        ) != agent_ids_before
        try:
            appointment = change_schedule(appointment, rule=rule, by=by, check_overlap=check_overlap and not redrawn)
        except OverlapWarning:
            raise  # it names the overlaps; not a fault of the rule's text
        except ValidationError as error:
            raise ValidationError({"recurrence": error.messages}) from error
        if check_overlap and redrawn and appointment.busy:
            # Moved or regrouped: every occurrence where it now falls, not only the new ones.
            _refuse_series_overlaps(appointment, list(appointment.agents.all()))
    if stop:
        try:
            appointment = stop_repeating(appointment, by=by)
        except ValidationError as error:
            raise ValidationError({"stop_repeating": error.messages}) from error
    appointment.dropped_exceptions = dropped  # what a series' move could not carry (`_move_exceptions`)
    return appointment


def _keep_cancelled_as_given(master: Appointment, rule, *, by=None) -> recurrence_lib.Recurrence | None:
    """`edit_appointment`'s `cancelled_as_given`: the EXDATEs of `rule` (text or Recurrence) become
    the series' cancelled starts as it is now (`change_schedule` with its current rule), so the
    edit that follows moves them as it moves every exception. Returns `rule` without its EXDATEs,
    or None when that is the series' rule as it is. Raises ValidationError({"recurrence": ...}) for
    a rule that cannot be read."""
    try:
        given = _parse_rule(rule)
    except ValidationError as error:
        raise ValidationError({"recurrence": error.messages}) from error
    schedule = master.schedule
    current = schedule.recurrence
    wanted = sorted(set(exdate_instants(given, schedule_zone(schedule))))
    if wanted != sorted(cancelled_starts(schedule)):
        with_cancelled = recurrence_lib.Recurrence(
            rrules=current.rrules, exrules=current.exrules, rdates=current.rdates, exdates=wanted, include_dtstart=False
        )
        change_schedule(master, rule=with_cancelled, by=by, cancelled_as_given=True, staged=True)
    without = recurrence_lib.Recurrence(
        rrules=given.rrules, exrules=given.exrules, rdates=given.rdates, include_dtstart=False
    )
    as_is = recurrence_lib.Recurrence(
        rrules=current.rrules, exrules=current.exrules, rdates=current.rdates, include_dtstart=False
    )
    return None if recurrence_lib.serialize(without) == recurrence_lib.serialize(as_is) else without


@transaction.atomic
def edit_occurrences(
    occurrence: Appointment,
    *,
    scope: str,
    by=None,
    agents: Iterable[Agent] | None = None,
    check_overlap: bool = False,
    **changes,
) -> Appointment:
    """Save an edit made on one occurrence of a series for `scope` (`EditScope`), as Outlook and
    Google ask: "occurrence" edits it alone (`edit_appointment`); "all" gives the whole series the
    edit, its change of time as a shift of the master on the series' wall clock
    (`update_appointment`: the exceptions and UNTIL move along); "following" splits the series
    (`split_series`). `changes` as `update_appointment` takes them, start and end the
    occurrence's new ones (equal to its own: no change of time). Returns the appointment saved:
    the occurrence, the master, or the new series' master. Raises ValidationError({"scope": ...})
    for a scope other than "occurrence" on anything but an occurrence; otherwise as
    `edit_appointment` raises."""
    if scope == EditScope.OCCURRENCE:
        return edit_appointment(occurrence, by=by, agents=agents, check_overlap=check_overlap, **changes)
    if not occurrence.is_occurrence or scope not in EditScope.values:
        raise ValidationError({"scope": "Only an occurrence of a series is edited with its following occurrences."})
    master = Appointment.objects.select_related("schedule").get(pk=occurrence.master_id)
    if scope == EditScope.FOLLOWING and series_starts_around(master, occurrence.original_start)[0] is not None:
        return split_series(occurrence, by=by, agents=agents, check_overlap=check_overlap, **changes)
    # The whole series (or the following ones from its first: the same): the master takes the shift.
    span = _shifted_span(master, occurrence, master.start, changes)
    if span is not None:
        changes["start"], changes["end"] = span
    return edit_appointment(master, by=by, agents=agents, check_overlap=check_overlap, **changes)


def _shifted_span(
    master: Appointment, occurrence: Appointment, start: datetime, changes: dict
) -> tuple[datetime | date, datetime | date] | None:
    """The span an occurrence of `master` starting at `start` (aware) takes when the edit of
    `occurrence` (`changes` start and end, taken out of them) applies to it: the shift from the
    occurrence's original start (the series' time; one moved on its own and given 14:00 puts the
    series at 14:00) on the series' wall clock, in days for an all-day series, and the new length;
    None when the edit keeps the occurrence's time (start and end not given, or given as they are)."""
    zone = schedule_zone(master.schedule)
    tech_zone = _zone_of(list(occurrence.agents.all()))
    new_start, new_end = changes.pop("start", None), changes.pop("end", None)
    if new_start is None and new_end is None:
        return None
    if master.all_day:
        first, after = occurrence.day_span(tech_zone)
        new_first = new_start if isinstance(new_start, date) and not isinstance(new_start, datetime) else first
        new_after = new_end if isinstance(new_end, date) and not isinstance(new_end, datetime) else after
        if (new_first, new_after) == (first, after):
            return None
        day = start.astimezone(zone).date() + (new_first - occurrence.original_start.astimezone(zone).date())
        return day, day + (new_after - new_first)
    new_start = _aware(new_start, tech_zone) if new_start is not None else occurrence.start
    new_end = _aware(new_end, tech_zone) if new_end is not None else occurrence.end
    if (new_start, new_end) == (occurrence.start, occurrence.end):
        return None

    moved = times.wall_shifted(start, times.wall_shift(occurrence.original_start, new_start, zone), zone)
    return moved, times.end_after(moved, times.exact_length(new_start, new_end))


@transaction.atomic
def split_series(
    occurrence: Appointment,
    *,
    by=None,
    agents: Iterable[Agent] | None = None,
    check_overlap: bool = False,
    **changes,
) -> Appointment:
    """ "This and following": the series of `occurrence` (not its first) ends before it and a new
    series starts at it with the edit applied, as Outlook and Google split a series. The old rule
    gets UNTIL at its last start before the occurrence (RFC 5545 3.3.10, `_rule_ended_at`: its past
    stays as it is, `change_schedule`); the new one repeats the same pattern from the occurrence's
    start, shifted as the edit moved it (`_shifted_span`), with COUNT reduced by the starts before
    (or UNTIL shifted along, as `_shift_until`). The exceptions from the occurrence on go to the
    new series: cancelled starts (EXDATE), occurrences edited on their own (their own time kept
    when they were moved on their own) and edits kept for occurrences not made yet. `changes` as
    `update_appointment` takes them; `agents`: the new series' technicians (default: the series').
    The new series repeats on the old one's clock (`schedule_zone`: its IANA zone, or its own
    VTIMEZONE kept as `Schedule.zone_block`). Both reach the external calendars through the usual
    announcements: the old series updated, the new one created. Returns the new series' master.
    Raises ValidationError as `create_recurring_appointment` and `change_schedule` raise
    (OverlapWarning with `check_overlap`)."""
    master = Appointment.objects.select_related("schedule").get(pk=occurrence.master_id)
    schedule = master.schedule
    zone = schedule_zone(schedule)
    key = occurrence.original_start
    last, _ = series_starts_around(master, key)
    length = times.exact_length(master.start, master.end)
    given = _shifted_span(master, occurrence, key, changes)
    span = given or (
        (key.astimezone(zone).date(), key.astimezone(zone).date() + (master.end_date - master.start_date))
        if master.all_day and master.start_date
        else (key, times.end_after(key, length))
    )
    first = span[0] if isinstance(span[0], datetime) else times.midnight(span[0], zone)
    shift = times.wall_shift(key, first, zone)
    on = list(agents) if agents is not None else list(master.agents.all())
    # The new series' clock (as `create_recurring_appointment` below picks it): the old one's, but an
    # all-day series' days are midnights on its technicians' zone, so a day of the old series (its
    # cancelled and edited occurrences, UNTIL, RDATEs) lands on the same day of the new one there.
    new_zone = _zone_of(on) if master.all_day else zone

    def shifted(moment: datetime) -> datetime:
        return times.wall_shifted(moment, shift, new_zone, zone)

    # What follows, read before the old series lets it go.
    later = master.occurrences.filter(is_modified=True, original_start__gte=key)
    if given is not None:  # the new series starts at the time given: the occurrence's own move is undone
        later = later.exclude(pk=occurrence.pk)
    rows = list(later.prefetch_related("agents"))
    cancelled = [m for m in exdate_instants(schedule.recurrence, zone) if m >= key]
    cancelled += [row.original_start for row in rows if row.is_cancelled]
    edited = [row for row in rows if not row.is_cancelled]
    later_edits = [entry for entry in future_exceptions(schedule) if entry["original_start"] >= key]
    rule = _rule_following(master, key, shifted, [shifted(moment) for moment in cancelled])
    fields = {name: getattr(master, name) for name in SHARED_FIELDS if name != "all_day"}
    fields.update(changes)
    fields.pop("all_day", None)

    change_schedule(master, rule=_rule_ended_at(master, last), by=by)
    source = Appointment.Source.MANUAL if master.source == Appointment.Source.PLANNED else master.source
    new = create_recurring_appointment(
        rule=rule,
        agents=on,
        start=span[0],
        end=span[1],
        # The same clock: the series' IANA zone, or its own VTIMEZONE kept as a block (a block's zone
        # is no IANA key); an all-day series takes its technicians' zone, as it is made.
        time_zone=None if master.all_day or schedule.zone_block else schedule.time_zone,
        zone_block="" if master.all_day else schedule.zone_block,
        all_cancelled=True,
        check_overlap=check_overlap,
        all_day=master.all_day,
        request=master.request,
        source=source,
        by=by,
        **fields,
    )
    _carry_edits(master, new, edited, later_edits, shifted, length)
    _announce(new, Change.UPDATED, _agent_ids(new), by, split_from=master.pk)
    return new


def _rule_following(
    master: Appointment, key: datetime, shifted: Callable[[datetime], datetime], cancelled: list[datetime]
) -> recurrence_lib.Recurrence:
    """The rule of the series split off `master` at its start `key` (`split_series`): each RRULE
    with COUNT less the starts it gave before `key` (RFC 5545 3.8.5.3: COUNT runs from DTSTART), or
    its UNTIL `shifted`; the RDATEs from `key` on and the `cancelled` starts (EXDATE, shifted
    already) as they fall on the new series."""
    schedule = master.schedule
    zone = schedule_zone(schedule)
    rule = schedule.recurrence
    local = master.start.astimezone(zone)
    rules = []
    for each in rule.rrules:
        following = copy.copy(each)
        if each.count:
            before = times.rule_starts(
                local, [recurrence_lib.serialize(each)], until=key, until_included=False, limit=None
            )
            following.count = each.count - len(before)
            if following.count <= 0:
                continue
        elif each.until is not None:
            until = shifted(rule_instant(each.until, zone))
            following.until = until.astimezone(UTC) if each.until.tzinfo else until.replace(tzinfo=None)
        rules.append(following)
    return recurrence_lib.Recurrence(
        rrules=rules,
        exrules=rule.exrules,
        rdates=[shifted(rule_instant(m, zone)) for m in rule.rdates if rule_instant(m, zone) >= key],
        exdates=sorted(cancelled),
        include_dtstart=False,
    )


def _carry_edits(
    master: Appointment,
    new: Appointment,
    edited: list[Appointment],
    later_edits: list[dict],
    shifted: Callable[[datetime], datetime],
    length: timedelta,
) -> None:
    """Give the new series of `split_series` the edits of the occurrences it took over: each
    `edited` row of the old series (gone now) on the new one's occurrence at its shifted start, its
    own time kept when it was moved on its own (else the new series' time), its own texts and
    technicians kept; `later_edits` (`future_exceptions` entries) kept for occurrences not made yet."""
    made = {o.original_start: o for o in new.occurrences.all()}
    zone = schedule_zone(new.schedule)
    entries = [{**entry, "original_start": shifted(entry["original_start"])} for entry in later_edits]
    new_agent_ids = _agent_ids(new)  # read once, not once a row
    for row in edited:
        target = made.get(shifted(row.original_start))
        own_time = row.start != row.original_start or times.exact_length(row.start, row.end) != length
        if target is None:
            span = {"start": row.start, "end": row.end} if own_time else _series_span(new, shifted(row.start), zone)
            entries.append({"original_start": shifted(row.original_start), **span, "subject": row.subject})
            continue
        if own_time:
            target.start, target.end, target.start_date, target.end_date = (
                row.start,
                row.end,
                row.start_date,
                row.end_date,
            )
        for name in SHARED_FIELDS:
            if getattr(row, name) != getattr(master, name):
                setattr(target, name, getattr(row, name))
        target.is_modified = True
        _validated_save(target)
        row_agents = {agent.pk for agent in row.agents.all()}  # prefetched by `split_series`
        if row_agents != new_agent_ids:
            target.agents.set(row_agents)
    if entries:
        keep_future_exceptions(new, [*future_exceptions(new.schedule), *entries])


def series_rule_after_move(master: Appointment, rule, *, agents: Iterable[Agent] | None, changes: dict):
    """The rule a person's edit gives a series (`edit_appointment`): when it moves the master's start
    to another day on the series' wall clock, the rule's days move with it (`rule_shift.shifted_rule`:
    BYDAY, BYMONTHDAY, BYMONTH, as Outlook and Google move a series), so the series moves whole and
    its exceptions (shifted by `_move_exceptions`) still name occurrences. `rule`: None (the rule
    kept) or the new rule as `edit_appointment` takes it; one repeating on other days than the
    current one is the person's choice and comes back as given, as does any rule of anything but a
    master, or when the start stays on its day. Returns None (nothing to change) or the rule.

    Raises ValidationError({"start": ...}), saving nothing, when the moved rule does not give the new
    start as its first occurrence (RFC 5545 3.8.5.3: DTSTART is the first instance) though the old
    rule gave the old one: a rule whose days cannot be moved (BYSETPOS, BYYEARDAY, BYWEEKNO)."""
    from calendars.rule_shift import same_pattern, shifted_rule, wall_day

    if not master.is_recurring_master or not {"start", "all_day"} & set(changes):
        return rule
    current = master.schedule.recurrence
    try:
        base = current if rule is None else _parse_rule(rule)
    except ValidationError:
        return rule  # `change_schedule` refuses it with its message
    if not same_pattern(base, current):
        return rule
    zone = schedule_zone(master.schedule)
    moved_master = copy.copy(master)
    on = list(agents) if agents is not None else list(master.agents.all())
    _set_changes(moved_master, {k: v for k, v in changes.items() if k in ("start", "end", "all_day")}, _zone_of(on))
    before, after = wall_day(master.start, zone), wall_day(moved_master.start, zone)
    if before == after:
        return rule
    moved = shifted_rule(base, before, after)
    if rule is not None:  # the person's own EXDATEs (new cancellations) stay as given
        moved.exdates = list(base.exdates)
    else:
        # The series' own rule moved: its end moves too, by the same wall-clock shift, as
        # `_shift_until` moves it when the days stay (a rule given with the move keeps its end).
        shift = times.wall_shift(master.start, moved_master.start, zone)
        moved = _until_moved(moved, lambda moment: times.wall_shifted(moment, shift, zone), zone)
    if _first_start(current, master.start, zone) == master.start and (
        _first_start(moved, moved_master.start, zone) != moved_master.start
    ):
        raise ValidationError(
            {
                "start": "The series' rule cannot move to the new day with its start; change its days "
                "(Repeat) along with the start, or move single occurrences."
            }
        )
    return moved


def _first_start(rule: recurrence_lib.Recurrence, start: datetime, zone: zoneinfo.ZoneInfo) -> datetime | None:
    """The first start (aware) `rule` gives from `start` on the wall clock of `zone`, EXDATEs aside."""
    local = start.astimezone(zone).replace(tzinfo=None)
    whole = recurrence_lib.Recurrence(
        rrules=rule.rrules, exrules=rule.exrules, rdates=rule.rdates, include_dtstart=False
    )
    with timezone.override(zone):
        first = whole.after(local, inc=True, dtstart=local)
    if first is None:
        return None
    wall = first.astimezone(zone).replace(tzinfo=None) if first.tzinfo else first
    return times.on_wall_clock(wall, zone)


def _without_exdates(schedule: Schedule) -> Schedule:
    """A copy of the schedule (unsaved, never to be saved) whose rule cancels nothing."""
    whole = copy.copy(schedule)
    rule = schedule.recurrence
    whole.recurrence = recurrence_lib.Recurrence(
        rrules=rule.rrules, exrules=rule.exrules, rdates=rule.rdates, include_dtstart=False
    )
    return whole


def _starts_given(master: Appointment, schedule: Schedule, moments: list[datetime]) -> set[datetime]:
    """Those of `moments` (aware) that the schedule's rule gives as occurrence starts."""
    if not moments:
        return set()
    given = occurrence_starts(schedule, master, max(moments), after=min(moments))
    return set(given) & set(moments)


@transaction.atomic
def keep_cancelled_starts(master: Appointment, starts: Iterable[datetime]) -> Appointment:
    """Record on the series which original starts are cancelled (RFC 5545 EXDATE), made yet or
    not: occurrences made later, beyond today's horizon, are then never made. Occurrences
    already made are cancelled on their own with `cancel_occurrence`; a start no longer cancelled
    gets its occurrence made (within the span `materialise_occurrences` keeps)."""
    schedule = master.schedule
    wanted = sorted(set(starts))
    before = set(schedule.recurrence.exdates)
    if sorted(before) != wanted:
        schedule.recurrence = recurrence_lib.Recurrence(
            rrules=schedule.recurrence.rrules,
            exrules=schedule.recurrence.exrules,
            rdates=schedule.recurrence.rdates,
            exdates=wanted,
            include_dtstart=False,  # as the field reads it: the series' start counts only if the rule gives it
        )
        schedule.save(update_fields=["recurrence"])
        if before - set(wanted):
            materialise_occurrences(master)
    return master


def _moment_text(value: datetime | date) -> str:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value.isoformat()


def exception_entries(exceptions: Iterable[dict]) -> list[dict]:
    """Edits of occurrences (the shape `future_exceptions` gives) as `Schedule.future_exceptions`
    stores them: plain JSON, by original start."""
    entries = [
        {
            "original_start": _moment_text(entry["original_start"]),
            "start": _moment_text(entry["start"]),
            "end": _moment_text(entry["end"]),
            "subject": entry.get("subject"),
            "location": entry.get("location"),
            **({"private": True} if entry.get("private") else {}),
        }
        for entry in exceptions
    ]
    entries.sort(key=lambda entry: entry["original_start"])
    return entries


@transaction.atomic
def keep_future_exceptions(master: Appointment, exceptions: Iterable[dict]) -> Appointment:
    """Keep on the series the edits of occurrences that are not made yet (beyond the horizon),
    in the shape `future_exceptions` gives; making those occurrences later applies them. An edit
    whose original start the rule does not give names no occurrence (RFC 5545 3.8.4.4: a
    RECURRENCE-ID beyond a shortened rule) and is not kept."""
    schedule = master.schedule
    made = set(master.occurrences.values_list("original_start", flat=True))
    waiting = [entry for entry in exceptions if entry["original_start"] not in made]
    on_rule = _starts_given(master, _without_exdates(schedule), [entry["original_start"] for entry in waiting])
    entries = exception_entries(entry for entry in waiting if entry["original_start"] in on_rule)
    if entries != (schedule.future_exceptions or []):
        schedule.future_exceptions = entries
        schedule.save(update_fields=["future_exceptions"])
    return master


@transaction.atomic
def restore_occurrences(master: Appointment, original_starts: Iterable[datetime], *, by=None, now=None) -> int:
    """Undo the series' own edits and cancellations of the occurrences at `original_starts`
    (aware): each goes, and is made again as the series has it if the rule still gives its start
    (within the span `materialise_occurrences` keeps). Returns the number of occurrences removed."""
    gone = list(master.occurrences.filter(original_start__in=list(original_starts)))
    agent_ids = _agent_ids(master)
    for occurrence in gone:
        _announce(occurrence, Change.DELETED, agent_ids, by)
    Appointment.objects.filter(pk__in=[occurrence.pk for occurrence in gone]).delete()
    if gone:
        materialise_occurrences(master, now=now, by=by)
    return len(gone)


@transaction.atomic
def cancel_occurrence(occurrence: Appointment, *, by=None) -> Appointment:
    if not occurrence.is_occurrence:
        raise ValidationError("Only an occurrence of a recurring appointment can be cancelled on its own.")
    occurrence.is_cancelled = True
    occurrence.is_modified = True
    occurrence.sequence += 1
    occurrence.save(update_fields=["is_cancelled", "is_modified", "sequence", "updated_at"])
    _announce(occurrence, Change.CANCELLED, _agent_ids(occurrence), by)
    return occurrence


def visible_from(now: datetime, settings: CalendarSettings | None = None) -> datetime:
    """The first moment (UTC) whose occurrences are stored: the import window's start
    (CalendarSettings.import_days_past before `now`). Earlier occurrences of a series are only
    its rule: a series that began ten years ago does not store ten years of rows (issue 14)."""
    settings = settings or CalendarSettings.load()
    return now - timedelta(days=settings.import_days_past)


def kept_span(
    start: datetime, now: datetime, *, shown_from: datetime | None = None, settings: CalendarSettings | None = None
) -> tuple[datetime, datetime]:
    """The span of a series' starts the helpdesk keeps as occurrences, both ends included: from the
    import window's start (`visible_from(now)`, or `shown_from` when the caller has it), or the
    series' `start` when later, to RECURRENCE_HORIZON (a year) after `now`, or after `start` when
    later. Aware in, aware out. The one definition for what `materialise_occurrences` makes and
    what is counted against MAX_OCCURRENCES_A_YEAR (`check_rule`, the import's cost check), so a
    rule let through never makes more rows than that (review 14)."""
    shown_from = shown_from if shown_from is not None else visible_from(now, settings)
    return max(start, shown_from), max(now, start) + RECURRENCE_HORIZON


def kept_span_on_wall_clock(
    start: datetime, now: datetime, zone: zoneinfo.ZoneInfo, *, settings: CalendarSettings | None = None
) -> tuple[datetime, datetime]:
    """`kept_span(start, now)` (both aware) as naive wall-clock times on `zone` (the series' IANA
    zone), both ends included: the span a rule is walked over when its starts are counted against
    MAX_OCCURRENCES_A_YEAR (`check_rule`, the import's cost check), since a rule repeats on its
    zone's wall clock (RFC 5545 3.3.10)."""
    first, last = kept_span(start, now, settings=settings)
    return first.astimezone(zone).replace(tzinfo=None), last.astimezone(zone).replace(tzinfo=None)


def too_many_starts_text(settings: CalendarSettings | None = None) -> str:
    """The refusal of a rule that gives more than MAX_OCCURRENCES_A_YEAR starts in the span kept
    (`kept_span`), for the pages, the API and the sync log."""
    settings = settings or CalendarSettings.load()
    return (
        f"This rule repeats more than {MAX_OCCURRENCES_A_YEAR:,} times in a year and the "
        f"{settings.import_days_past} days before it, more than the helpdesk keeps for one series; "
        "repeat it less often. Those days are the calendar settings' import days past, which the "
        "count includes: fewer of them let more series through."
    )


def materialise_occurrences(master: Appointment, *, now=None, by=None, prune_against: Schedule | None = None) -> int:
    """Make the occurrences the rule gives from the import window's start (`visible_from`) up
    to a year from now (or from the series' start, if later); occurrences already made, and
    earlier ones, stay as they are.

    With `prune_against` (the series' schedule with its rule's whole set, EXDATEs taken off:
    `_without_exdates`, so a start the rule cancels still names an occurrence), occurrences in that
    span it no longer gives are removed, those edited or cancelled on their own too
    (`change_schedule`). Returns the number of occurrences created.
    """
    schedule = master.schedule
    now = now or timezone.now()
    first = visible_from(now)
    existing = {occ.original_start: occ for occ in master.occurrences.all()}
    agents = list(master.agents.all())
    if prune_against is not None:
        wanted = set(_occurrence_plan(master, prune_against, now, first)[1])
        for original_start, occurrence in existing.items():
            if original_start >= first and original_start not in wanted:
                _announce(occurrence, Change.DELETED, {a.pk for a in agents}, by)
                occurrence.delete()
    created = _occurrences_to_make(master, schedule, existing, now, first)
    Appointment.objects.bulk_create(created)
    through = Appointment.agents.through
    through.objects.bulk_create(
        [through(appointment_id=occ.pk, agent_id=agent.pk) for occ in created for agent in agents]
    )
    schedule.save(update_fields=["materialised_until", "future_exceptions"])
    return len(created)


def materialise_new_series(
    masters: list[Appointment], agents: list[Agent], *, now=None, settings: CalendarSettings | None = None
) -> list[Appointment]:
    """The occurrences of series just saved (each master with its saved `schedule`, none made
    yet), for the coming year, in one insert of occurrences, one of their technicians and one
    update of the schedules: what `materialise_occurrences` does for each, without a query per
    series. Every occurrence is on `agents`. `settings`: the CalendarSettings the caller holds
    (read when not given). Returns the occurrences made.
    """
    if not masters:
        return []  # a batch of single entries: nothing to make, no settings to read
    now = now or timezone.now()
    first = visible_from(now, settings)  # once for the whole batch
    made: list[tuple[Appointment, dict]] = []
    for master in masters:
        made += [(master, values) for values in _occurrence_values(master, master.schedule, {}, now, first)]
    # Rows, not instances: only the few edited occurrences are read again (below).
    keys = bulk.insert_rows(Appointment, [{"master_id": master.pk, **values} for master, values in made])
    rows = [(key, agent.pk) for key in keys for agent in agents]
    bulk.insert_values(Appointment.agents.through, ["appointment", "agent"], rows)
    bulk.update([master.schedule for master in masters], ["materialised_until", "future_exceptions"])
    edited = []
    for key, (master, values) in zip(keys, made, strict=True):
        if values["is_modified"]:
            occurrence = Appointment(pk=key, master=master, **values)
            occurrence._state.adding = False
            occurrence._state.db = master._state.db
            edited.append(occurrence)
    return edited


def _occurrence_plan(
    master: Appointment, schedule: Schedule, now: datetime, shown_from: datetime
) -> tuple[datetime, list[datetime]]:
    """The horizon and the occurrence starts to store: those of the span kept (`kept_span`)."""
    first, until = kept_span(master.start, now, shown_from=shown_from)
    return until, occurrence_starts(schedule, master, until, after=first)


def _occurrences_to_make(
    master: Appointment, schedule: Schedule, existing: dict, now: datetime, shown_from: datetime
) -> list[Appointment]:
    """The occurrences (unsaved) the rule gives up to the horizon that `existing` (by original
    start) lacks, edits made before they existed applied; moves the schedule's
    `materialised_until` and drops the edits applied from its `future_exceptions` (unsaved)."""
    made = []
    for values in _occurrence_values(master, schedule, existing, now, shown_from):
        del values["request_id"], values["created_by_id"]  # given as the objects, as the master holds them
        made.append(Appointment(master=master, request=master.request, created_by=master.created_by, **values))
    return made


def _occurrence_values(
    master: Appointment, schedule: Schedule, existing: dict, now: datetime, shown_from: datetime
) -> list[dict]:
    """What `_occurrences_to_make` makes, as each occurrence's field values by attname, its
    master left out (the caller's); moves the schedule as `_occurrences_to_make` says."""
    until, starts = _occurrence_plan(master, schedule, now, shown_from)
    duration = times.exact_length(master.start, master.end)
    zone = schedule_zone(schedule)
    days = (master.end_date - master.start_date) if master.all_day and master.start_date else None
    created = []
    edited = {entry["original_start"]: entry for entry in future_exceptions(schedule)}
    master_shared = {name: getattr(master, name) for name in SHARED_FIELDS}  # the same for every occurrence
    for start in starts:
        if start in existing:
            continue
        span = _series_span(master, start, zone, duration=duration, days=days)
        shared = master_shared
        entry = edited.pop(start, None)
        if entry is not None:
            shared = dict(master_shared)  # this occurrence's own edits go on a copy
            # Edited before it was made: made as edited, and left alone by later rule changes.
            span = _edited_span(entry, zone, master.all_day)
            shared.update({name: entry[name] for name in ("subject", "location") if entry.get(name) is not None})
            if entry.get("private"):  # an occurrence the external calendar marked private: busy time only
                shared.update(private=True, busy=True, **dict.fromkeys(privacy.TEXT_FIELDS, ""))
        created.append(
            {
                "original_start": start,
                "is_modified": entry is not None,
                **span,
                "source": master.source,
                "request_id": master.request_id,
                "created_by_id": master.created_by_id,
                **shared,
            }
        )
    schedule.materialised_until = until
    if len(edited) != len(schedule.future_exceptions or []):
        schedule.future_exceptions = [
            entry for entry in schedule.future_exceptions if datetime.fromisoformat(entry["original_start"]) in edited
        ]
    return created


def _series_span(
    master: Appointment,
    start: datetime,
    zone: zoneinfo.ZoneInfo,
    *,
    duration: timedelta | None = None,
    days: timedelta | None = None,
) -> dict:
    """The span an occurrence of the series starting at `start` (aware) has by the master: its
    start and end (the master's exact length, RFC 5545 3.8.5.3), and for an all-day series its
    days (as many as the master's) with their midnights on `zone`. `duration` and `days` may be
    given when the caller computed them once for many starts."""
    if master.all_day and master.start_date:
        days = days if days is not None else master.end_date - master.start_date
        first = start.astimezone(zone).date()
        return {
            "start": start,
            "end": times.midnight(first + days, zone),
            "start_date": first,
            "end_date": first + days,
        }
    duration = duration if duration is not None else times.exact_length(master.start, master.end)
    return {"start": start, "end": times.end_after(start, duration)}


def _edited_span(entry: dict, zone, all_day: bool) -> dict:
    start, end = entry["start"], entry["end"]
    if all_day or not isinstance(start, datetime):
        first, after = times.date_span(start, end, zone)
        return {
            "start": times.midnight(first, zone),
            "end": times.midnight(after, zone),
            "start_date": first,
            "end_date": after,
        }
    return {"start": start, "end": end}


def _spread_to_occurrences(
    master: Appointment,
    *,
    moved: bool,
    agents: list[Agent] | None,
    span_before: tuple[datetime, datetime],
    next_rule=None,
    zone_before: zoneinfo.ZoneInfo | None = None,
) -> list[datetime]:
    """Bring unedited occurrences in step with their master (`span_before`: its start and end
    before the change, aware; `next_rule`: see `update_appointment`; `zone_before`: the series'
    zone before a change of it, None when it kept it). Returns the original starts (aware, as
    they were) of the exceptions a move dropped (`_move_exceptions`)."""
    if moved or zone_before is not None:
        # A new start, length or clock redraws the series: drop unedited occurrences and remake them.
        master.occurrences.filter(is_modified=False).delete()
        if next_rule is None:  # a rule given with the move is the caller's, its end included
            _shift_until(master, span_before[0], zone_before)
        dropped = _move_exceptions(master, *span_before, next_rule=next_rule, zone_before=zone_before)
        materialise_occurrences(master)
        return dropped
    unedited = master.occurrences.filter(is_modified=False)
    unedited.update(**{name: getattr(master, name) for name in SHARED_FIELDS}, sequence=master.sequence)
    if agents is not None:
        through = Appointment.agents.through
        ids = list(unedited.values_list("id", flat=True))
        through.objects.filter(appointment_id__in=ids).delete()
        through.objects.bulk_create([through(appointment_id=i, agent_id=a.pk) for i in ids for a in agents])
    return []


def _series_shift(
    master: Appointment, start_before: datetime, zone_before: zoneinfo.ZoneInfo | None = None
) -> tuple[timedelta | None, Callable[[datetime], datetime]]:
    """A whole series moved from `start_before` (aware; on `zone_before`'s clock when the series
    changed zone, else on its own) to its master's start: (the shift on the wall clock
    (`times.wall_shift`), None when nothing moves; the function giving a moment of the series (aware)
    after that shift on the series' clock (`times.wall_shifted`), aware). On the wall clock, so 15:00 stays
    the 15:00 of each day across a DST change, and the 09:00 of each day stays 09:00 on a new clock."""
    zone = schedule_zone(master.schedule)
    shift = times.wall_shift(start_before, master.start, zone, zone_before)

    def shifted(moment: datetime) -> datetime:
        return times.wall_shifted(moment, shift, zone, zone_before)

    return (shift if shift or zone_before is not None else None), shifted


def _shift_until(master: Appointment, start_before: datetime, zone_before: zoneinfo.ZoneInfo | None = None) -> None:
    """A whole series moved from `start_before`: each RRULE's UNTIL moves by the same wall-clock
    shift (`_series_shift`), as Outlook and Google move a series' end with it, so the series keeps
    its number of occurrences (RFC 5545 3.3.10: UNTIL bounds the starts counted from DTSTART; left
    in place, a later start loses the last occurrence, an earlier one gains one). UNTIL keeps its
    form: UTC stays UTC (an all-day series' last-second-of-the-day stays the last second of the
    shifted day), a wall-clock UNTIL stays on the wall clock. COUNT needs nothing. The RDATEs move
    by the same shift (`_until_moved`). Saves the schedule when an UNTIL or RDATE moved."""
    schedule = master.schedule
    shift, shifted = _series_shift(master, start_before, zone_before)
    rule = schedule.recurrence
    if shift is None or (all(each.until is None for each in rule.rrules) and not rule.rdates):
        return
    # The clock a naive UNTIL was written on.
    schedule.recurrence = _until_moved(rule, shifted, zone_before or schedule_zone(schedule))
    schedule.save(update_fields=["recurrence"])


def _until_moved(
    rule: recurrence_lib.Recurrence, shifted: Callable[[datetime], datetime], zone: zoneinfo.ZoneInfo
) -> recurrence_lib.Recurrence:
    """`rule` with each RRULE's UNTIL and each RDATE moved by `shifted` (aware -> aware), each in
    its own form (UTC stays UTC, a wall-clock one on `zone`'s wall clock stays one): `_shift_until`'s
    rule. The RDATEs are starts of the series (RFC 5545 3.8.5.2) as much as its EXDATEs name them
    (3.8.5.1): a whole series moved moves them by the same wall-clock shift, as `_move_exceptions`
    moves the EXDATEs (left in place, the added days would stay at the old time or day)."""

    rules = []
    for each in rule.rrules:
        moved = copy.copy(each)
        if each.until is not None:
            moved.until = _rule_moment_moved(each.until, shifted, zone)
        rules.append(moved)
    return recurrence_lib.Recurrence(
        rrules=rules,
        exrules=rule.exrules,
        rdates=[_rule_moment_moved(moment, shifted, zone) for moment in rule.rdates],
        exdates=rule.exdates,
        include_dtstart=False,
    )


def _rule_moment_moved(moment: datetime, shifted: Callable[[datetime], datetime], zone: zoneinfo.ZoneInfo) -> datetime:
    """A rule's UNTIL or RDATE (`rule_instant`: naive on `zone`'s wall clock, or aware) moved by
    `shifted` (aware -> aware), in its own form: an aware one in UTC, a naive one on the wall clock
    `shifted` gives."""
    after = shifted(rule_instant(moment, zone))
    return after.astimezone(UTC) if moment.tzinfo else after.replace(tzinfo=None)


def _move_exceptions(
    master: Appointment,
    start_before: datetime,
    end_before: datetime,
    *,
    next_rule=None,
    zone_before: zoneinfo.ZoneInfo | None = None,
) -> list[datetime]:
    """A whole-series edit moved the master from `start_before`: every exception of the series
    moves with it by the same shift on the series' wall clock (DST-correct: 15:00 stays the
    15:00 of each day, whatever its offset), so its cancelled starts stay cancelled and its
    occurrences moved on their own stay moved, once (RFC 5545 3.8.5.1: an EXDATE, and 3.8.4.4: a
    RECURRENCE-ID, names an instance the rule gives; one at the old time names none and would
    bring the instance back, or show it twice). What Google does for an "all events" time change.

    Moved: the cancelled starts (EXDATE), the original start of each occurrence edited or
    cancelled on its own (made or not yet made: `Schedule.future_exceptions`). An occurrence
    whose time was never changed on its own (edited in its text only, or cancelled) takes the
    series' new time and length too; one moved on its own keeps its own start and end.

    An exception whose shifted start the series' rule (EXDATEs aside; `next_rule` instead when
    given, see `update_appointment`) does not give, as after a change of weekday under BYDAY, is
    dropped: its made occurrence goes (announced), its EXDATE or
    kept edit is forgotten. Returns those original starts (aware, as they were before), in order.
    Runs after the master is saved and its unedited occurrences are gone (their keys may be taken).
    `zone_before`: the series' zone before a change of its clock (`update_appointment`): the keys
    keep their wall-clock times on the new one, shifted as the master.
    """
    schedule = master.schedule
    zone = schedule_zone(schedule)
    shift, shifted = _series_shift(master, start_before, zone_before)
    length_before = times.exact_length(start_before, end_before)

    edited = list(master.occurrences.all())  # the unedited ones are gone
    exdates = exdate_instants(schedule.recurrence, zone_before or zone)
    entries = future_exceptions(schedule)
    olds = [*exdates, *(o.original_start for o in edited), *(e["original_start"] for e in entries)]
    lengthened = times.exact_length(master.start, master.end) != length_before
    if not olds or (shift is None and not lengthened):
        return []
    if shift is None:
        # Only the length changed: no key moves, but occurrences edited in their text only (and
        # kept edits) still take the series' new length, as the docstring says (review 7).
        shift, shifted = timedelta(0), lambda moment: moment
    whole = _without_exdates(schedule)
    if next_rule is not None:
        try:
            whole.recurrence = check_rule(next_rule, start=master.start, zone=zone, cost_checked=True)
            whole = _without_exdates(whole)
        except ValidationError:
            pass  # the caller's `change_schedule` refuses it, with its message, and keeps nothing

    given = _starts_given(master, whole, [shifted(old) for old in olds])
    # A cancelled occurrence is both a made row and an EXDATE: one start, named once.
    dropped = sorted({old for old in olds if shifted(old) not in given})

    agent_ids = _agent_ids(master)
    gone = [o for o in edited if shifted(o.original_start) not in given]
    for occurrence in gone:
        _announce(occurrence, Change.DELETED, agent_ids, None)
    Appointment.objects.filter(pk__in=[o.pk for o in gone]).delete()
    # One row at a time, from the end the shift moves towards: no key is ever held twice
    # (the shift keeps their order), so the unique (master, original_start) index never refuses.
    later = master.start > start_before  # the instants' shift (a new clock may move them against the wall's)
    kept = sorted((o for o in edited if o not in gone), key=lambda o: o.original_start, reverse=later)
    for occurrence in kept:
        key = shifted(occurrence.original_start)
        if (
            occurrence.start == occurrence.original_start
            and times.exact_length(occurrence.start, occurrence.end) == length_before
        ):
            for name, value in _series_span(master, key, zone).items():
                setattr(occurrence, name, value)
        occurrence.original_start = key
        occurrence.save(update_fields=["original_start", "start", "end", "start_date", "end_date", "updated_at"])

    def follows(entry: dict) -> bool:
        start, end = entry["start"], entry["end"]
        return (
            isinstance(start, datetime)
            and start == entry["original_start"]
            and times.exact_length(start, end) == length_before
        )

    moved_entries = []
    for entry, raw in zip(entries, schedule.future_exceptions or [], strict=True):
        key = shifted(entry["original_start"])
        if key not in given:
            continue
        if follows(entry):
            span = _series_span(master, key, zone)
            raw = {**raw, "start": _moment_text(span["start"]), "end": _moment_text(span["end"])}
        moved_entries.append({**raw, "original_start": _moment_text(key)})
    schedule.future_exceptions = sorted(moved_entries, key=lambda entry: entry["original_start"])
    rule = schedule.recurrence
    schedule.recurrence = recurrence_lib.Recurrence(
        rrules=rule.rrules,
        exrules=rule.exrules,
        rdates=rule.rdates,
        exdates=sorted(shifted(old) for old in exdates if shifted(old) in given),
        include_dtstart=False,
    )
    schedule.save(update_fields=["recurrence", "future_exceptions"])
    return dropped


def extend_recurring_appointments(*, now=None) -> int:
    """Keep a year of occurrences ahead of every series; run by a periodic task."""
    now = now or timezone.now()
    created = 0
    masters = Appointment.objects.filter(
        schedule__isnull=False, schedule__materialised_until__lt=now + RECURRENCE_HORIZON - timedelta(days=1)
    ).select_related("schedule")
    for master in masters:
        with transaction.atomic():
            created += materialise_occurrences(master, now=now)
    return created


@transaction.atomic
def hide_text(appointment: Appointment, *, with_occurrences: bool = True) -> Appointment:
    """Store an imported entry the external calendar marks private as busy time only
    (calendars.privacy): subject, note, location and other attendees blanked, on its occurrences
    too unless `with_occurrences` is False. Sends no notice and marks nothing to push: the text
    still stands in the external calendar; this only stops the helpdesk keeping it."""
    ids = [appointment.pk]
    if with_occurrences:
        ids += list(appointment.occurrences.values_list("pk", flat=True))
    blank = dict.fromkeys(privacy.TEXT_FIELDS, "")
    Appointment.objects.filter(pk__in=ids).update(private=True, busy=True, other_attendees=[], **blank)
    appointment.refresh_from_db()
    return appointment


@transaction.atomic
def show_text(occurrence: Appointment, *, subject: str, note: str, location: str) -> Appointment:
    """An occurrence the external calendar no longer marks private gets its text back (the
    series' or its own, as the caller gives it). Sends no notice and marks nothing to push."""
    Appointment.objects.filter(pk=occurrence.pk).update(
        private=False, subject=subject[:255], note=note, location=location[:255]
    )
    occurrence.refresh_from_db()
    return occurrence
