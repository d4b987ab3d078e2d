"""Writes that apply remote changes to the helpdesk: the engine's only way into appointments.

The engine calls these inside `inbound(agent_calendar)`, so a change that came from a calendar is
not marked to be pushed back to that same calendar (`integrations.services` reads
`inbound_calendar_id()` when it marks links). Each function takes plain RemoteEvents and the
appointment it changes; none talks to an external system.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from agents.models import Agent
from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings
from integrations.models import AgentCalendar
from integrations.providers.base import RemoteEvent
from integrations.sync import mapping

_inbound_calendar: contextvars.ContextVar[int | None] = contextvars.ContextVar("inbound_calendar", default=None)


@contextlib.contextmanager
def inbound(agent_calendar: AgentCalendar) -> Iterator[None]:
    """Changes made inside come from this agent calendar: its own link is not marked for a push."""
    token = _inbound_calendar.set(agent_calendar.pk)
    try:
        yield
    finally:
        _inbound_calendar.reset(token)


def inbound_calendar_id() -> int | None:
    """The agent calendar whose remote change is being applied right now, if any."""
    return _inbound_calendar.get()


def _as_datetime(value: datetime | date, agent: Agent) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), tzinfo=agent.zone)


def _rule_text(event: RemoteEvent) -> str:
    return "\n".join("RRULE:" + rule for rule in event.rrules)


def _blank_private(appointment: Appointment) -> None:
    """A private external entry is stored as busy time only: no subject, body or location."""
    ids = [appointment.pk, *appointment.occurrences.values_list("pk", flat=True)]
    Appointment.objects.filter(pk__in=ids).update(subject="", note="", location="", private=True, busy=True)
    appointment.refresh_from_db()


def import_remote_event(agent: Agent, event: RemoteEvent) -> Appointment:
    """A new appointment (or series) from an entry made in the external calendar.

    The entry's own reminder (minutes before start, None: none) is kept as the appointment's, so
    the helpdesk's default reminder never reaches an entry the helpdesk did not make.
    """
    fields = {
        "subject": (event.subject or "").strip()[:255] or "(no subject)",
        "note": event.body or "",
        "location": event.location or "",
        "all_day": event.all_day,
        "private": event.private,
        "busy": True if event.private else event.busy,
        "reminder_minutes": event.reminder_minutes,
        "source": Appointment.Source.EXTERNAL,
    }
    start, end = _as_datetime(event.start, agent), _as_datetime(event.end, agent)
    if end <= start:
        end = start + timedelta(minutes=1)
    if event.is_recurring:
        appointment = calendar_services.create_recurring_appointment(
            rule=_rule_text(event), agents=[agent], start=start, end=end, time_zone=event.time_zone, **fields
        )
        _apply_exceptions(appointment, agent, None, event)
    else:
        appointment = calendar_services.create_appointment(agents=[agent], start=start, end=end, **fields)
    if event.private:
        _blank_private(appointment)
    return appointment


def _apply_exceptions(master: Appointment, agent: Agent, before: RemoteEvent | None, after: RemoteEvent) -> None:
    """Cancelled and moved occurrences of a series, as the remote entry now has them."""
    occurrences = {occ.original_start: occ for occ in master.occurrences.all()}
    known_exdates = {_as_datetime(d, agent) for d in (before.exdates if before else [])}
    for exdate in after.exdates:
        key = _as_datetime(exdate, agent)
        occurrence = occurrences.get(key)
        if key not in known_exdates and occurrence is not None and not occurrence.is_cancelled:
            calendar_services.cancel_occurrence(occurrence)
    earlier = {_as_datetime(o.original_start, agent): o for o in (before.overrides if before else [])}
    for override in after.overrides:
        key = _as_datetime(override.original_start, agent)
        occurrence = occurrences.get(key)
        if occurrence is None:
            continue
        old = earlier.get(key)
        changes = {}
        start, end = _as_datetime(override.start, agent), _as_datetime(override.end, agent)
        moved_remotely = old is None or (old.start, old.end) != (override.start, override.end)
        if moved_remotely and (start, end) != (occurrence.start, occurrence.end):
            changes.update(start=start, end=end)
        if not master.private:
            subject = override.subject or ""
            if subject.strip() and subject != after.subject and (old is None or old.subject != subject):
                changes["subject"] = subject[:255]
            location = override.location
            if location is not None and location != occurrence.location and (old is None or old.location != location):
                changes["location"] = location[:255]
        if changes:
            calendar_services.update_appointment(occurrence, **changes)


def _own_text(
    value: str, *, template: str | None, field: str, appointment: Appointment, first_read: bool
) -> str | None:
    """The appointment's own text behind a remote text; None: leave the appointment's text alone.

    A template-made text is read back through the template (`[HD] {subject}` shown as
    `[HD] X (call first)` gives `X (call first)`), so rendering it again gives what the remote shows.
    """
    if template is None:
        return value
    own = mapping.untemplate(template, value, mapping.template_values(appointment), field=field)
    if own is not None:
        return own
    # The remote text no longer fits the template (someone rewrote it whole): keep it as the text,
    # except on a first read, where it may be an older template's output.
    return None if first_read else value


def apply_remote_update(
    appointment: Appointment,
    agent: Agent,
    before: RemoteEvent | None,
    after: RemoteEvent,
    *,
    templated: bool,
    settings: CalendarSettings,
) -> Appointment:
    """Bring an appointment in step with its remote entry, touching only the fields where `after`
    differs from `before`.

    `before` is the remote entry as last synced (a remote change is applied field by field), or
    the helpdesk's own entry as it stands (the external calendar won a conflict: every field where
    the two differ is overwritten, so both sides end up equal). `templated`: the entry's subject and
    body come from the admins' templates and are read back through them.
    """
    changes: dict[str, object] = {}
    if before is None or (before.start, before.end, before.all_day) != (after.start, after.end, after.all_day):
        start, end = _as_datetime(after.start, agent), _as_datetime(after.end, agent)
        if (start, end) != (appointment.start, appointment.end):
            changes.update(start=start, end=end)
        if after.all_day != appointment.all_day:
            changes["all_day"] = after.all_day
    external = appointment.source == Appointment.Source.EXTERNAL
    private_changed = before is not None and before.private != after.private
    if private_changed and after.private != appointment.private:
        changes["private"] = after.private
    hidden = external and after.private
    # An external entry that stops being private shows its text again: all of it, changed or not.
    unveiled = external and private_changed and not after.private
    if not hidden:
        for remote_name, local_name, limit, template in (
            ("subject", "subject", 255, settings.subject_template if templated else None),
            ("body", "note", 20_000, settings.body_template if templated else None),
            ("location", "location", 255, None),
        ):
            value = getattr(after, remote_name) or ""
            if before is not None and not unveiled and mapping.same_text(getattr(before, remote_name), value):
                continue
            if local_name == "subject" and not value.strip():
                continue
            own = _own_text(
                value, template=template, field=local_name, appointment=appointment, first_read=before is None
            )
            if own is None:
                continue
            if not mapping.same_text(own, getattr(appointment, local_name)):
                changes[local_name] = own[:limit]
        if (before is None or before.busy != after.busy) and appointment.busy != after.busy:
            changes["busy"] = after.busy
    if appointment.is_recurring_master:
        before_rules = sorted(mapping.normalise_rrule(r) for r in before.rrules) if before else None
        after_rules = sorted(mapping.normalise_rrule(r) for r in after.rrules)
        if before_rules != after_rules and after.rrules:
            calendar_services.change_schedule(appointment, rule=_rule_text(after))
        if changes:
            appointment = calendar_services.update_appointment(appointment, **changes)
        _apply_exceptions(appointment, agent, before, after)
    elif changes:
        appointment = calendar_services.update_appointment(appointment, **changes)
    if hidden and private_changed:
        _blank_private(appointment)
    return appointment


def remove_for_remote_deletion(appointment: Appointment, agent: Agent) -> None:
    """An entry deleted in the external calendar: the technician leaves the appointment; an
    appointment with nobody left goes."""
    others = list(appointment.agents.exclude(pk=agent.pk))
    if others:
        calendar_services.update_appointment(appointment, agents=others)
    else:
        calendar_services.delete_appointment(appointment)
