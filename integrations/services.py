"""Rules that write sync state and apply external changes to appointments.

Outbound: `note_appointment_change` (connected to calendars' `appointment_changed`) marks the
sync links of the technicians concerned and queues one push per agent calendar on commit.
Inbound: the engine applies remote entries through `import_remote_event`,
`apply_remote_update` and `remove_for_remote_deletion`, inside `inbound(agent_calendar)` so the
change is not pushed back to the calendar it came from.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from calendars import services as calendar_services
from calendars import times
from calendars.models import Appointment, CalendarSettings, SyncPolicy
from calendars.selectors import effective_sync_policy
from calendars.signals import Change
from integrations.models import AgentCalendar, Connection, SyncLink
from integrations.providers.base import ConnectionProblem, ProviderError, RemoteEvent, RemoteOccurrence

logger = logging.getLogger(__name__)

_inbound_calendar: contextvars.ContextVar[int | None] = contextvars.ContextVar("inbound_calendar", default=None)


@contextlib.contextmanager
def inbound(agent_calendar: AgentCalendar) -> Iterator[None]:
    """Changes made inside come from this agent calendar: its own link is not marked for a push."""
    token = _inbound_calendar.set(agent_calendar.pk)
    try:
        yield
    finally:
        _inbound_calendar.reset(token)


# --- outbound: mark links, queue pushes ------------------------------------------------------------


def _queue_pushes(agent_calendar_ids: set[int]) -> None:
    from integrations.tasks import push_agent_calendar

    for pk in sorted(agent_calendar_ids):
        push_agent_calendar.delay(pk)


def note_appointment_change(*, appointment: Appointment, change: str, agent_ids_before: frozenset, **_) -> None:
    """Receiver of `appointment_changed`: per the effective policy of each technician concerned,
    mark the appointment's sync link for a push (Always), or waiting for approval (Ask); Never
    makes no link. A series syncs as one entry, so an occurrence's change marks its master."""
    target = appointment.master if appointment.master_id else appointment
    target_deleted = change == Change.DELETED and target.pk == appointment.pk
    agent_ids_now = set() if target_deleted else set(target.agents.values_list("id", flat=True))
    concerned = agent_ids_now | set(agent_ids_before)
    if not concerned:
        return
    origin = _inbound_calendar.get()
    settings = CalendarSettings.load()
    calendars = AgentCalendar.objects.filter(
        agent_id__in=concerned, connection__is_active=True, state__in=[AgentCalendar.State.ACTIVE, "failing"]
    ).select_related("agent")
    touched: set[int] = set()
    for agent_calendar in calendars:
        if agent_calendar.pk == origin:
            continue
        on_calendar = agent_calendar.agent_id in agent_ids_now
        policy = effective_sync_policy(agent_calendar.agent, settings)
        link = SyncLink.objects.filter(agent_calendar=agent_calendar, appointment=target).first()
        if link is None:
            if not on_calendar or policy == SyncPolicy.NEVER:
                continue
            link = SyncLink(agent_calendar=agent_calendar, appointment=target)
        elif policy == SyncPolicy.NEVER and on_calendar:
            continue
        link.pending = True
        # Removing our own entry needs nobody's approval; adding or changing one does under Ask.
        if on_calendar and policy == SyncPolicy.ASK:
            link.approval = SyncLink.Approval.WAITING
        elif link.approval != SyncLink.Approval.APPROVED:
            link.approval = SyncLink.Approval.NOT_NEEDED
        link.failures = 0
        link.next_attempt_at = None
        link.save()
        touched.add(agent_calendar.pk)
    if touched:
        transaction.on_commit(lambda: _queue_pushes(touched))


@transaction.atomic
def approve(link: SyncLink, *, by=None) -> SyncLink:
    """The technician lets this appointment reach the external calendar."""
    link.approval = SyncLink.Approval.APPROVED
    link.pending = True
    link.save(update_fields=["approval", "pending"])
    pk = link.agent_calendar_id
    transaction.on_commit(lambda: _queue_pushes({pk}))
    return link


@transaction.atomic
def decline(link: SyncLink, *, by=None) -> SyncLink:
    """The technician keeps this appointment (this version of it) out of the external calendar."""
    link.approval = SyncLink.Approval.DECLINED
    link.pending = False
    link.save(update_fields=["approval", "pending"])
    return link


@transaction.atomic
def push_choice(appointment: Appointment, *, push: bool, agent: Agent | None = None, by=None) -> int:
    """The manual appointment form's answer for technicians whose policy is Ask: push now
    (approve) or keep it in the helpdesk (decline), without a trip to the "to approve" page.

    Call it after saving the appointment, in the same request. `agent` limits the choice to one
    technician. Returns the number of links decided.
    """
    target = appointment.master if appointment.master_id else appointment
    links = SyncLink.objects.filter(appointment=target, approval=SyncLink.Approval.WAITING)
    if agent is not None:
        links = links.filter(agent_calendar__agent=agent)
    count = 0
    for link in links:
        (approve if push else decline)(link, by=by)
        count += 1
    return count


def answer_push_choice(appointments, push: bool | None, *, agent: Agent | None, by=None) -> int:
    """Apply a form's "send it now / keep it here" answer of one technician to new appointments;
    no answer (None) leaves them waiting for approval."""
    if push is None or agent is None:
        return 0
    return sum(push_choice(appointment, push=push, agent=agent, by=by) for appointment in appointments)


# --- inbound: remote entries -> appointments -------------------------------------------------------


def _as_datetime(value: datetime | date, agent: Agent) -> datetime:
    """A remote value as an instant: a date is the start of that day and a floating time is on
    the technician's wall clock (RFC 5545 3.3.5: floating is the reader's local time)."""
    if isinstance(value, datetime):
        return times.on_wall_clock(value, agent.zone) if value.tzinfo is None else value
    return times.midnight(value, agent.zone)


def _series_zone(event: RemoteEvent, agent: Agent) -> ZoneInfo:
    """The zone a series repeats in: its own, or the technician's for dates and floating times."""
    return times.zone_or(event.time_zone if isinstance(event.start, datetime) else "", agent.zone)


def _rule_text(event: RemoteEvent, agent: Agent) -> str:
    """The series' rules as the helpdesk stores them (UNTIL in UTC), with every cancelled
    occurrence as an EXDATE, so occurrences made later (beyond today's one-year horizon) stay
    cancelled too."""
    zone = _series_zone(event, agent)
    lines = ["RRULE:" + times.rule_in_utc(rule, zone, all_day=event.all_day) for rule in event.rrules]
    start = event.start
    just_before = start - (timedelta(seconds=1) if isinstance(start, datetime) else timedelta(days=1))
    try:
        given = times.rule_starts(start, event.rrules, after=just_before, until=start, limit=1)
    except (ValueError, TypeError):
        given = [start]  # a rule dateutil cannot expand: django-recurrence will say so
    if not given:
        # RFC 5545 3.8.5.3: DTSTART is the first occurrence even where the rule does not give it.
        start = _as_datetime(start, agent)
        lines.append("RDATE:" + start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    for rdate in event.rdates:
        moment = _as_datetime(rdate, agent) if isinstance(rdate, datetime) or event.all_day else None
        if moment is None:  # a date on a timed series: that day at the series' time of day
            moment = _exdate_instant(rdate, event, agent)
        lines.append("RDATE:" + moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    for moment in _cancelled_starts(event, agent):
        lines.append("EXDATE:" + moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    return "\n".join(lines)


def _cancelled_starts(event: RemoteEvent, agent: Agent) -> list[datetime]:
    return [_exdate_instant(exdate, event, agent) for exdate in event.exdates]


def _exdate_instant(exdate: datetime | date, event: RemoteEvent, agent: Agent) -> datetime:
    """The start an EXDATE cancels: a date on a timed series names that day's occurrence, a
    DATE-TIME on an all-day series the day it was written on."""
    if not isinstance(event.start, datetime):
        return _as_datetime(exdate.date() if isinstance(exdate, datetime) else exdate, agent)
    if isinstance(exdate, datetime):
        return _as_datetime(exdate, agent)
    zone = _series_zone(event, agent)
    local = event.start.astimezone(zone) if event.start.tzinfo else event.start
    return times.on_wall_clock(datetime.combine(exdate, local.time()), zone)


def _blank_private(appointment: Appointment) -> None:
    """A private external entry is stored as busy time only: no subject, body or location."""
    ids = [appointment.pk, *appointment.occurrences.values_list("pk", flat=True)]
    Appointment.objects.filter(pk__in=ids).update(subject="", note="", location="", private=True, busy=True)
    appointment.refresh_from_db()


def import_remote_event(agent: Agent, event: RemoteEvent) -> Appointment:
    """A new appointment (or series) from an entry made in the external calendar."""
    fields = {
        "subject": (event.subject or "").strip()[:255] or "(no subject)",
        "note": event.body or "",
        "location": event.location or "",
        "all_day": event.all_day,
        "private": event.private,
        "busy": True if event.private else event.busy,
        "source": Appointment.Source.EXTERNAL,
    }
    start, end = _span(event, agent)
    if event.is_recurring:
        appointment = calendar_services.create_recurring_appointment(
            rule=_rule_text(event, agent),
            agents=[agent],
            start=start,
            end=end,
            time_zone=_series_zone(event, agent),
            **fields,
        )
        _apply_exceptions(appointment, agent, None, event)
    else:
        appointment = calendar_services.create_appointment(agents=[agent], start=start, end=end, **fields)
    if event.private:
        _blank_private(appointment)
    return appointment


def _span(event: RemoteEvent | RemoteOccurrence, agent: Agent) -> tuple[datetime | date, datetime | date]:
    """Start and end to store: dates stay dates (all-day), times become instants; never empty."""
    if not isinstance(event.start, datetime):
        first, after = times.date_span(event.start, event.end, agent.zone)
        return first, after
    start, end = _as_datetime(event.start, agent), _as_datetime(event.end, agent)
    if end <= start:
        end = start + timedelta(minutes=1)
    return start, end


def _occurrence_for(key: datetime | date, occurrences: dict, zone) -> Appointment | None:
    """The occurrence an exception names, by its original start (in any value type)."""
    if isinstance(key, datetime):
        return occurrences.get(key)
    for original, occurrence in occurrences.items():
        if times.same_day_or_instant(key, original, zone):
            return occurrence
    return None


def _apply_exceptions(master: Appointment, agent: Agent, before: RemoteEvent | None, after: RemoteEvent) -> None:
    """Cancelled and moved occurrences of a series, as the remote entry now has them."""
    zone = _series_zone(after, agent)
    occurrences = {occ.original_start: occ for occ in master.occurrences.all()}

    def key_of(value: datetime | date) -> datetime | date:
        # An all-day series names its occurrences by day (a DATE-TIME key: the day it was
        # written on); a timed one by start, a DATE key there naming that day's occurrence.
        if master.all_day:
            return _as_datetime(value.date() if isinstance(value, datetime) else value, agent)
        return _as_datetime(value, agent) if isinstance(value, datetime) else value

    known_exdates = {key_of(d) for d in (before.exdates if before else [])}
    for exdate in after.exdates:
        key = key_of(exdate)
        occurrence = _occurrence_for(key, occurrences, zone)
        if key not in known_exdates and occurrence is not None and not occurrence.is_cancelled:
            calendar_services.cancel_occurrence(occurrence)
    earlier = {key_of(o.original_start): o for o in (before.overrides if before else [])}
    not_made = []
    for override in after.overrides:
        key = key_of(override.original_start)
        occurrence = _occurrence_for(key, occurrences, zone)
        if occurrence is None:
            if isinstance(key, datetime):
                start, end = _span(override, agent)
                subject = None if master.private or override.subject == after.subject else override.subject
                location = None if master.private or override.location == after.location else override.location
                not_made.append(
                    {"original_start": key, "start": start, "end": end, "subject": subject, "location": location}
                )
            continue
        old = earlier.get(key)
        changes = {}
        start, end = _span(override, agent)
        moved_remotely = old is None or (old.start, old.end) != (override.start, override.end)
        if moved_remotely and not calendar_services.same_span(occurrence, start, end):
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
    # Edits of occurrences not made yet (beyond the horizon) wait on the series until they are.
    calendar_services.keep_future_exceptions(master, not_made)


def apply_remote_update(
    appointment: Appointment, agent: Agent, before: RemoteEvent | None, after: RemoteEvent, *, templated: bool
) -> Appointment:
    """Bring an appointment in step with its remote entry, touching only what changed remotely
    since the last sync (a template-made subject is not copied back unless someone edited it)."""
    changes: dict[str, object] = {}
    if before is None or (before.start, before.end, before.all_day) != (after.start, after.end, after.all_day):
        start, end = _span(after, agent)
        if not calendar_services.same_span(appointment, start, end) or after.all_day != appointment.all_day:
            changes.update(start=start, end=end)
        if after.all_day != appointment.all_day:
            changes["all_day"] = after.all_day
    hidden = appointment.private and appointment.source == Appointment.Source.EXTERNAL
    if not hidden:
        for remote_name, local_name, limit in (
            ("subject", "subject", 255),
            ("body", "note", 20_000),
            ("location", "location", 255),
        ):
            value = getattr(after, remote_name) or ""
            if before is not None and (getattr(before, remote_name) or "") == value:
                continue
            if local_name == "subject" and not value.strip():
                continue
            if templated and before is None:
                continue  # never read the template's output back as the appointment's own text
            changes[local_name] = value[:limit]
        if before is None or before.busy != after.busy:
            changes["busy"] = after.busy
    if appointment.is_recurring_master:
        rules_changed = before is None or (sorted(before.rrules), before.rdates) != (sorted(after.rrules), after.rdates)
        if rules_changed and after.rrules:
            calendar_services.change_schedule(appointment, rule=_rule_text(after, agent))
        else:
            calendar_services.keep_cancelled_starts(appointment, _cancelled_starts(after, agent))
        if changes:
            appointment = calendar_services.update_appointment(appointment, **changes)
        _apply_exceptions(appointment, agent, before, after)
        return appointment
    if changes:
        appointment = calendar_services.update_appointment(appointment, **changes)
    return appointment


def remove_for_remote_deletion(appointment: Appointment, agent: Agent) -> None:
    """An entry deleted in the external calendar: the technician leaves the appointment; an
    appointment with nobody left goes."""
    others = list(appointment.agents.exclude(pk=agent.pk))
    if others:
        calendar_services.update_appointment(appointment, agents=others)
    else:
        calendar_services.delete_appointment(appointment)


# --- onboarding -----------------------------------------------------------------------------------------


def provider_for(connection: Connection, **overrides):
    from integrations.providers import registry

    return registry.build(connection, **overrides)


@transaction.atomic
def add_connection(
    *, name: str, kind: str, url: str, username: str = "", secret: str = "", options: dict | None = None
) -> Connection:
    if kind not in Connection.Kind.values:
        raise ValidationError({"kind": f"Unknown kind {kind!r}; use one of: {', '.join(Connection.Kind.values)}."})
    connection = Connection.objects.filter(name=name).first() or Connection(name=name)
    connection.kind = kind
    connection.server_url = url
    connection.username = username
    connection.options = {**connection.options, **(options or {})}
    if secret:
        connection.set_secret(secret)
    connection.full_clean()
    connection.save()
    return connection


def mailbox_to_test(connection: Connection) -> str | None:
    """The technician's mailbox a connection test opens: the one the admin chose, or the first connected."""
    chosen = (connection.options or {}).get("test_mailbox")
    if chosen:
        return chosen
    first = connection.agent_calendars.select_related("agent__user").order_by("pk").first()
    return first.mailbox_address if first is not None else None


def test_connection(connection: Connection, mailbox: str | None = None) -> str:
    """A one-line "what works" (the account, and one technician's calendar when there is one);
    raises ConnectionProblem saying plainly what does not."""
    mailbox = mailbox or mailbox_to_test(connection)
    try:
        return provider_for(connection).test_connection(mailbox)
    except ConnectionProblem:
        raise
    except ProviderError as error:
        raise ConnectionProblem(str(error)) from error
    except Exception as error:  # a library's surprise still gets a message, not a crash page
        logger.exception("Testing %s failed", connection)
        raise ConnectionProblem(f"The test failed unexpectedly: {error}") from error


def record_connection_test(connection: Connection) -> str:
    """Run the connection test and keep its outcome on the connection for admins to read."""
    try:
        message, ok = test_connection(connection), True
    except ConnectionProblem as problem:
        message, ok = str(problem), False
    Connection.objects.filter(pk=connection.pk).update(
        last_test_at=timezone.now(), last_test_ok=ok, last_test_message=message
    )
    return message


@transaction.atomic
def connect_agent(
    agent: Agent, *, connection: Connection, calendar: str | None = None, import_external: bool | None = None
) -> AgentCalendar:
    """Tie a technician to their calendar on a connection (the default one unless named)."""
    found = provider_for(connection).find_calendar(agent.mailbox, calendar)
    agent_calendar, _ = AgentCalendar.objects.update_or_create(
        agent=agent,
        connection=connection,
        defaults={
            "calendar_id": found.calendar_id,
            "calendar_name": calendar or "",
            "sync_token": "",
            "state": AgentCalendar.State.ACTIVE,
            "last_error": "",
        },
    )
    if import_external is not None and agent.import_external != import_external:
        agent.import_external = import_external
        agent.save(update_fields=["import_external"])
    return agent_calendar


@transaction.atomic
def queue_existing_appointments(agent_calendar: AgentCalendar, *, since: datetime) -> int:
    """Mark a newly connected technician's coming appointments for a push (per policy)."""
    policy = effective_sync_policy(agent_calendar.agent)
    if policy == SyncPolicy.NEVER:
        return 0
    appointments = Appointment.objects.filter(agents=agent_calendar.agent, master__isnull=True, end__gte=since)
    appointments = appointments.exclude(sync_links__agent_calendar=agent_calendar)
    count = 0
    for appointment in appointments:
        SyncLink.objects.create(
            agent_calendar=agent_calendar,
            appointment=appointment,
            pending=True,
            approval=SyncLink.Approval.WAITING if policy == SyncPolicy.ASK else SyncLink.Approval.NOT_NEEDED,
        )
        count += 1
    return count
