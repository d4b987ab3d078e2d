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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from calendars import services as calendar_services
from calendars import times
from calendars.models import Appointment, CalendarSettings, Schedule
from calendars.rule_parts import rules_kept_as_read
from helpdesk import bulk
from helpdesk.durations import duration_text
from helpdesk.moments import day_text, history_moment, when_text
from integrations.models import AgentCalendar
from integrations.providers.base import RemoteEvent, RemoteOccurrence, UnreadableEntry
from integrations.sync import mapping, privacy

_inbound_calendar: contextvars.ContextVar[int | None] = contextvars.ContextVar("inbound_calendar", default=None)


@contextlib.contextmanager
def inbound(agent_calendar: AgentCalendar) -> Iterator[None]:
    """Changes made inside come from this agent calendar: its own link is not marked for a push."""
    token = _inbound_calendar.set(agent_calendar.pk)
    try:
        with rules_kept_as_read():  # a calendar's rules are read as they always were (rule_parts)
            yield
    finally:
        _inbound_calendar.reset(token)


def inbound_calendar_id() -> int | None:
    """The agent calendar whose remote change is being applied right now, if any."""
    return _inbound_calendar.get()


def _as_datetime(value: datetime | date, agent: Agent) -> datetime:
    """A remote value as an instant: a date is the start of that day and a floating time is on
    the technician's wall clock (RFC 5545 3.3.5: floating is the reader's local time)."""
    if isinstance(value, datetime):
        return times.on_wall_clock(value, agent.zone) if value.tzinfo is None else value
    return times.midnight(value, agent.zone)


def _series_zone(event: RemoteEvent, agent: Agent) -> tzinfo:
    """The zone a series repeats in: its own (an IANA zone, or the zone of its own VTIMEZONE when no
    IANA zone matches it: `RemoteEvent.zone_block`), or the technician's for dates and floating
    times. ValidationError for a block icalendar cannot read (`calendar_services.block_zone`)."""
    if not isinstance(event.start, datetime):
        return agent.zone
    if event.zone_block:
        return calendar_services.block_zone(event.zone_block)
    return times.zone_or(event.time_zone, agent.zone)


def _check_cost(
    event: RemoteEvent, agent: Agent, *, now: datetime | None = None, settings: CalendarSettings | None = None
) -> int:
    """How many starts the series' rules give in the year the helpdesk makes occurrences for
    (an upper bound on the rows it stores); UnreadableEntry when they give more than
    calendar_services.MAX_OCCURRENCES_A_YEAR starts in that year (calendars.services.RECURRENCE_HORIZON): a
    FREQ=MINUTELY or SECONDLY rule would make hundreds of thousands of rows. The rules are walked
    lazily (`times.starts_in_span`): however old the series, only the span kept counts
    (`calendar_services.kept_span_on_wall_clock`, the span its occurrences are made for). `now` and `settings`:
    the moment and CalendarSettings the occurrences will be made with (read when not given)."""
    zone = _series_zone(event, agent)
    aware_start = _as_datetime(event.start, agent)
    start = aware_start.astimezone(zone).replace(tzinfo=None)
    first, last = calendar_services.kept_span_on_wall_clock(aware_start, now or timezone.now(), zone, settings=settings)
    total, most = 0, calendar_services.MAX_OCCURRENCES_A_YEAR
    for rule in event.rrules:
        try:
            count = times.starts_in_span(
                start, [rule], first=first, last=last, limit=most, year=calendar_services.RECURRENCE_HORIZON
            )
        except (ValueError, TypeError, OverflowError) as error:
            raise UnreadableEntry(f"Its repeat rule {rule[:80]!r} cannot be expanded ({error}).") from error
        if count > most:
            days = (settings or CalendarSettings.load()).import_days_past
            raise UnreadableEntry(
                f"Its repeat rule {rule[:80]!r} gives more than {most} occurrences in a year and the days "
                f"before it the helpdesk keeps; the helpdesk holds at most that many. Those {days} days are "
                "the calendar settings' import days past, which the count includes: fewer of them let more "
                "series through."
            )
        total += count
    return total


def _rule_text(
    event: RemoteEvent, agent: Agent, *, cost_checked: bool = False, settings: CalendarSettings | None = None
) -> str:
    """The series' rules as the helpdesk stores them (UNTIL in UTC), with every cancelled
    occurrence as an EXDATE, so occurrences made later (beyond today's one-year horizon) stay
    cancelled too. UnreadableEntry for rules that give too many occurrences (`_check_cost`)."""
    if not cost_checked:
        _check_cost(event, agent, settings=settings)
    zone = _series_zone(event, agent)
    lines = ["RRULE:" + _one_end(times.rule_in_utc(rule, zone, all_day=event.all_day)) for rule in event.rrules]
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


def _one_end(rule: str) -> str:
    """An external RRULE (text without its name) that ends by both COUNT and UNTIL, which RFC 5545
    3.3.10 forbids, kept with COUNT alone, as django-recurrence has always read it; the helpdesk
    refuses such a rule from a person (calendars.services.check_rule) but takes a calendar's."""
    parts = rule.split(";")
    if any(part.upper().startswith("COUNT=") for part in parts):
        return ";".join(part for part in parts if not part.upper().startswith("UNTIL="))
    return rule


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


def _zone_block(event: RemoteEvent) -> str:
    """The VTIMEZONE a new series keeps (`Schedule.zone_block`): a timed series' own block that no
    IANA zone matches; "" for any other entry."""
    return event.zone_block if isinstance(event.start, datetime) else ""


def _blank_private(appointment: Appointment) -> None:
    """A private external entry is stored as busy time only (calendars.privacy)."""
    privacy.blank(appointment)


def import_remote_event(agent: Agent, event: RemoteEvent) -> Appointment:
    """A new appointment (or series) from an entry made in the external calendar, written whole
    or not at all (one transaction).

    The entry's own reminder (minutes before start, None: none) is kept as the appointment's, so
    the helpdesk's default reminder never reaches an entry the helpdesk did not make. Raises
    UnreadableEntry with a plain reason for an entry the helpdesk cannot hold (a rule the
    calendar cannot use, too many occurrences), nothing written.
    """
    try:
        with transaction.atomic():
            return _import(agent, event)
    except ValidationError as error:
        reason = " ".join(error.messages) or "it was refused"
        raise UnreadableEntry(f"The entry cannot be stored: {reason}") from error


def _import(agent: Agent, event: RemoteEvent) -> Appointment:
    fields = _import_fields(event)
    start, end = _span(event, agent)
    if event.is_recurring:
        appointment = calendar_services.create_recurring_appointment(
            rule=_rule_text(event, agent),
            agents=[agent],
            start=start,
            end=end,
            time_zone=_series_zone(event, agent) if not event.zone_block else None,
            zone_block=_zone_block(event),
            all_cancelled=True,  # kept linked and showing nothing, as the external calendar keeps it
            **fields,
        )
        _apply_exceptions(appointment, agent, None, event)
    else:
        appointment = calendar_services.create_appointment(agents=[agent], start=start, end=end, **fields)
    if event.private:
        _blank_private(appointment)
    return appointment


@dataclass
class ImportRow:
    """What one new remote entry becomes, ready to insert: `appointment` (unsaved, validated),
    and for a series its `rule` (django-recurrence, UNTIL in UTC, EXDATEs for cancelled starts),
    the `zone` it repeats in and the `exceptions` to apply as its occurrences are made (the shape
    `calendar_services.future_exceptions` gives)."""

    event: RemoteEvent
    appointment: Appointment
    rule: object | None = None
    zone: ZoneInfo | None = None
    exceptions: list[dict] = field(default_factory=list)
    occurrences: int = 0  # a series: at most this many occurrence rows (`_check_cost`)


def import_row(
    agent: Agent, event: RemoteEvent, *, now: datetime | None = None, settings: CalendarSettings | None = None
) -> ImportRow:
    """The per-entry step of a bulk import: one RemoteEvent as the row values `import_remote_event`
    would write, checked in Python only (no query). Raises ValidationError for an entry the
    helpdesk cannot store (as `import_remote_event` would), ValueError for one the batch does not
    take (an exception naming a timed occurrence by date): the engine imports those on their own.

    Hooks that shape an imported entry (privacy, limits) belong on `event` before this step, or
    on the returned row's `appointment` after it: both paths (this one and `import_remote_event`)
    read the same `_import_fields`.

    `now` and `settings`: what `import_remote_events` will make the occurrences with; without
    `settings` a series' cost check reads CalendarSettings (one query)."""
    start, end = _span(event, agent)
    fields = _import_fields(event)
    if event.private:
        fields.update(subject="", note="", location="", busy=True)  # busy time only, as _blank_private
    if not event.is_recurring:
        appointment = calendar_services.new_appointment(agents=[agent], start=start, end=end, **fields)
        return ImportRow(event, appointment)
    zone = _series_zone(event, agent)
    start, end = calendar_services.aware(start, zone), calendar_services.aware(end, zone)
    estimate = _check_cost(event, agent, now=now, settings=settings)
    with rules_kept_as_read():
        rule = calendar_services.check_rule(
            _rule_text(event, agent, cost_checked=True), start=start, zone=zone, all_cancelled=True, cost_checked=True
        )
    appointment = calendar_services.new_appointment(agents=[agent], start=start, end=end, **fields)
    exceptions = _first_exceptions(appointment, agent, event)
    return ImportRow(event, appointment, rule, zone, exceptions, occurrences=estimate)


def _first_exceptions(master: Appointment, agent: Agent, event: RemoteEvent) -> list[dict]:
    """A new series' moved or edited occurrences as edits to apply when each is made (the shape
    `calendar_services.future_exceptions` gives): what `_apply_exceptions` does to the
    occurrences of a series imported the first time. ValueError for an exception naming a timed
    occurrence by date (matched by day against occurrences made one by one: imported on its own)."""
    entries = []
    for override in event.overrides:
        original = override.original_start
        if not master.all_day and not isinstance(original, datetime):
            raise ValueError("An exception of this series names its occurrence by date; imported on its own.")
        entry = _exception_entry(master, agent, event, override, _occurrence_key(master, agent, original))
        if entry is not None:
            entries.append(entry)
    return entries


def _occurrence_key(master: Appointment, agent: Agent, value: datetime | date) -> datetime | date:
    """The original start an EXDATE or RECURRENCE-ID names: an all-day series names its
    occurrences by day (a DATE-TIME key: the day it was written on); a timed one by start, a
    DATE key there naming that day's occurrence (returned as the date)."""
    if master.all_day:
        return _as_datetime(value.date() if isinstance(value, datetime) else value, agent)
    return _as_datetime(value, agent) if isinstance(value, datetime) else value


def _exception_entry(
    master: Appointment, agent: Agent, event: RemoteEvent, override: RemoteOccurrence, key: datetime
) -> dict | None:
    """One override of an occurrence not made yet as the edit to apply when it is made (the
    shape `calendar_services.future_exceptions` gives); None when it changes nothing (the rule's
    own times, no text of its own: a blank subject or the master's text is not an edit, and a
    private series keeps no text)."""
    start, end = _span(override, agent)
    hidden = privacy.override_hidden(master, override)  # an unsaved master carries event.private
    subject = override.subject or ""
    subject = subject[:255] if subject.strip() and subject != event.subject and not hidden else None
    location = override.location
    changed = location is not None and location != (event.location or "") and not hidden
    location = location[:255] if changed else None
    if master.all_day:
        first = key.astimezone(_series_zone(event, agent)).date()
        same_span = (start, end) == (first, first + (master.end_date - master.start_date))
    else:
        same_span = (start, end) == (key, times.end_after(key, times.exact_length(master.start, master.end)))
    if same_span and subject is None and location is None and not override.private:
        return None
    entry = {"original_start": key, "start": start, "end": end, "subject": subject, "location": location}
    if override.private and not event.private:
        entry["private"] = True  # one occurrence private on its own: busy time without text
    return entry


def import_remote_events(
    agent: Agent, rows: list[ImportRow], *, now: datetime | None = None, settings: CalendarSettings | None = None
) -> list[Appointment]:
    """Write many new entries at once (rows from `import_row`): one insert of appointments, one
    of their technician, one of schedules, one of occurrences (and their technician) and one
    update of the schedules, whatever their number. No `appointment_changed` is sent: the
    caller announces what other calendars must hear. `settings`: the CalendarSettings the caller
    holds (read when not given). Returns the appointments in `rows`' order, each knowing its
    technician and (series) its schedule and occurrences edited on their own, so its entry is
    built without reading it again (`mapping.local_event`).
    """
    appointments = bulk.insert([row.appointment for row in rows])
    bulk.insert_values(Appointment.agents.through, ["appointment", "agent"], [(a.pk, agent.pk) for a in appointments])
    series = [row for row in rows if row.rule is not None]
    schedules = [
        Schedule(
            master=row.appointment,
            recurrence=row.rule,
            time_zone=ZoneInfo("UTC") if _zone_block(row.event) else row.zone,
            zone_block=_zone_block(row.event),
            future_exceptions=calendar_services.exception_entries(row.exceptions),
        )
        for row in series
    ]
    bulk.insert(schedules)
    made = calendar_services.materialise_new_series(
        [row.appointment for row in series], [agent], now=now, settings=settings
    )
    modified: dict[int, list[Appointment]] = {}
    for occurrence in made:
        if occurrence.is_modified:  # only these are read again, for their master's entry
            mapping.remember_related(occurrence, agents=[agent])
            modified.setdefault(occurrence.master_id, []).append(occurrence)
    schedule_field = Appointment._meta.get_field("schedule")
    for row in rows:
        if row.rule is None:
            schedule_field.set_cached_value(row.appointment, None)  # a single: no schedule to read
        mapping.remember_related(
            row.appointment, agents=[agent], modified_occurrences=modified.get(row.appointment.pk, [])
        )
    return appointments


def _import_fields(event: RemoteEvent) -> dict:
    return {
        "subject": (event.subject or "").strip()[:255] or "(no subject)",
        "note": event.body or "",
        "location": event.location or "",
        "all_day": event.all_day,
        "private": event.private,
        "busy": True if event.private else event.busy,
        "reminder_minutes": event.reminder_minutes,
        "source": Appointment.Source.EXTERNAL,
    }


def _span(event: RemoteEvent | RemoteOccurrence, agent: Agent) -> tuple[datetime | date, datetime | date]:
    """Start and end to store: dates stay dates (all-day), times become instants; never empty."""
    if not isinstance(event.start, datetime):
        first, after = times.date_span(event.start, event.end, agent.zone)
        return first, after
    start, end = _as_datetime(event.start, agent), _as_datetime(event.end, agent)
    # Compared as instants: Python compares two times of one zone by wall clock, and a start in the
    # spring-forward gap (02:30, read with the offset before the gap: RFC 5545 3.3.5) is the instant
    # of 03:30 after it, so "02:30-03:30" has no length (trial F2); limits noted it as kept 1 minute.
    if end.astimezone(UTC) <= start.astimezone(UTC):
        end = (start.astimezone(UTC) + timedelta(minutes=1)).astimezone(start.tzinfo)
    return start, end


def _occurrence_for(key: datetime | date, occurrences: dict, zone) -> Appointment | None:
    """The occurrence an exception names, by its original start (in any value type)."""
    if isinstance(key, datetime):
        return occurrences.get(key)
    for original, occurrence in occurrences.items():
        if times.same_day_or_instant(key, original, zone):
            return occurrence
    return None


def _apply_exceptions(
    master: Appointment,
    agent: Agent,
    before: RemoteEvent | None,
    after: RemoteEvent,
    settings: CalendarSettings | None = None,
) -> None:
    """Cancelled and moved occurrences of a series, as the remote entry now has them.

    With `before` (a series already held), what the entry no longer says goes first
    (`_forget_undone_exceptions`: the series moved whole and its exceptions were re-keyed, an
    exception or a cancellation was undone, the rule changed); then its EXDATEs and overrides are
    applied field by field against `before`. An override whose text is the series' own gives the
    occurrence the series' text back."""
    zone = _series_zone(after, agent)

    def key_of(value: datetime | date) -> datetime | date:
        return _occurrence_key(master, agent, value)

    if before is not None:
        _forget_undone_exceptions(master, agent, after, key_of, zone, settings or CalendarSettings.load())
    occurrences = {occ.original_start: occ for occ in master.occurrences.all()}
    known_exdates = {key_of(d) for d in (before.exdates if before else [])}
    for exdate in after.exdates:
        key = key_of(exdate)
        occurrence = _occurrence_for(key, occurrences, zone)
        if key not in known_exdates and occurrence is not None and not occurrence.is_cancelled:
            calendar_services.cancel_occurrence(occurrence)
    earlier = {key_of(o.original_start): o for o in (before.overrides if before else [])}
    # A series renamed (or moved elsewhere) remotely in this pull gave its new text to edited occurrences
    # that held the old one (calendar_services.update_appointment); an exception that keeps a text of
    # its own on the server (one that was never the series') takes that text back, while one that
    # still holds its copy of the series' old text follows the series (`follows_series_text`).
    renamed = before is not None and before.subject != after.subject
    relocated = before is not None and (before.location or "") != (after.location or "")
    not_made = []
    for override in after.overrides:
        key = key_of(override.original_start)
        occurrence = _occurrence_for(key, occurrences, zone)
        if occurrence is None:
            entry = _exception_entry(master, agent, after, override, key) if isinstance(key, datetime) else None
            if entry is not None:
                not_made.append(entry)
            continue
        old = earlier.get(key)
        changes = {}
        start, end = _span(override, agent)
        moved_remotely = old is None or (old.start, old.end) != (override.start, override.end)
        if moved_remotely and not calendar_services.same_span(occurrence, start, end):
            changes.update(start=start, end=end)
        if not privacy.override_hidden(master, override):
            subject = override.subject or ""
            own = subject[:255] if subject.strip() and subject != after.subject else None
            if follows_series_text("subject", before, old, override, after):
                own = None
            wanted = own if own is not None else master.subject  # None: the series' own text
            spread = renamed and own is not None and occurrence.subject == master.subject
            if (old is None or old.subject != override.subject or spread) and occurrence.subject != wanted:
                changes["subject"] = wanted
            location = override.location
            own = location[:255] if location is not None and location != (after.location or "") else None
            if follows_series_text("location", before, old, override, after):
                own = None
            wanted = own if own is not None else master.location
            spread = relocated and own is not None and occurrence.location == master.location
            if (old is None or old.location != location or spread) and occurrence.location != wanted:
                changes["location"] = wanted
        if changes:
            occurrence = calendar_services.update_appointment(occurrence, **changes)
        privacy.apply_to_occurrence(occurrence, master, override)
    # Edits of occurrences not made yet (beyond the horizon) wait on the series until they are.
    calendar_services.keep_future_exceptions(master, not_made)


def follows_series_text(
    name: str,
    before: RemoteEvent | None,
    old: RemoteOccurrence | None,
    override: RemoteOccurrence,
    after: RemoteEvent,
) -> bool:
    """Whether the override `override` of the remote series `after` shows its series' new text
    `name` ("subject" or "location") though it still holds the old one: the series' text changed
    since `before` (the series as last synced) and the override's is still the old series text,
    unchanged since then or then the series' own (`old`: the override as last synced, None if new),
    so it was a copy of the
    series' text, never a text of its own. A client that renames "all events" of a series may write
    the new name into the master alone (RFC 5545 3.8.4.4: an override is a whole component, its
    SUMMARY its own, so the old copy stays); Thunderbird, Google, Outlook and iOS show such an
    unedited occurrence under the series' new name, and so does the helpdesk, which then writes the
    new text into the override (`integrations.sync.engine`), so both sides show it."""
    if before is None:
        return False
    was = getattr(before, name) or ""
    if was == (getattr(after, name) or ""):
        return False
    held = getattr(override, name)
    if held is None or held != was:
        return False
    # As last synced it held the same text, or none of its own (Graph and EWS read an exception's
    # text as None when it shows the series').
    return old is None or getattr(old, name) in (None, held)


def copies_left_behind(before: RemoteEvent | None, after: RemoteEvent) -> bool:
    """Whether any override of the remote series `after` still holds a copy of its series' old
    subject or location (`follows_series_text`): the helpdesk shows the new text on that occurrence,
    so the entry is written again for the external calendar to show it too."""
    if before is None or not after.overrides:
        return False
    earlier = {o.original_start: o for o in before.overrides}
    return any(
        follows_series_text(name, before, earlier.get(override.original_start), override, after)
        for override in after.overrides
        for name in ("subject", "location")
    )


def _forget_undone_exceptions(
    master: Appointment, agent: Agent, after: RemoteEvent, key_of, zone: ZoneInfo, settings: CalendarSettings
) -> None:
    """Occurrences of `master` cancelled or edited on their own that the remote entry `after` no
    longer names go back to the rule: made again as the series has them, or gone if the rule no
    longer gives their start (`calendar_services.restore_occurrences`). Not named: no EXDATE at its
    original start, and no override there either (for a cancelled one: an override there brings
    it back, Google's way of restoring an instance). `key_of` turns a remote original start into
    the helpdesk's key.

    Judged only inside the import window (CalendarSettings), the span every system reports a
    series' exceptions for (Graph's instances and Google's full listing cover only that), and only
    for occurrences held by the series' own technicians (an occurrence given to someone else on its
    own is not this calendar's to undo)."""
    now = datetime.now(UTC)
    first, last = now - timedelta(days=settings.import_days_past), now + timedelta(days=settings.import_days_future)
    edited = {
        occurrence.original_start: occurrence
        for occurrence in master.occurrences.filter(
            is_modified=True, original_start__gte=first, original_start__lt=last
        )
    }
    if not edited:
        return
    named = set()
    for exdate in after.exdates:
        occurrence = _occurrence_for(key_of(exdate), edited, zone)
        if occurrence is not None:
            named.add(occurrence.pk)
    for override in after.overrides:
        occurrence = _occurrence_for(key_of(override.original_start), edited, zone)
        if occurrence is not None and not occurrence.is_cancelled:
            named.add(occurrence.pk)
    undone = [start for start, occurrence in edited.items() if occurrence.pk not in named]
    if not undone:
        return
    holders: dict[datetime, set[int]] = {start: set() for start in undone}
    through = Appointment.agents.through.objects.filter(
        appointment__master=master, appointment__original_start__in=undone
    )
    for start, agent_id in through.values_list("appointment__original_start", "agent_id"):
        holders[start].add(agent_id)
    series_agents = set(master.agents.values_list("pk", flat=True))
    ours = [start for start, agent_ids in holders.items() if agent_ids == series_agents and agent.pk in agent_ids]
    if ours:
        calendar_services.restore_occurrences(master, ours)


def _own_text(
    value: str, *, template: str | None, field: str, appointment: Appointment, first_read: bool
) -> str | None:
    """The appointment's own text behind a remote text; None: leave the appointment's text alone.

    A template-made text is read back through the template (`[HD] {subject}` shown as
    `[HD] X (call first)` gives `X (call first)`), so rendering it again gives what the remote shows.
    """
    if template is None:
        return value
    if field == "note":
        value = mapping.without_attendees(value, appointment)  # the line the push added, not the note
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
    changes, hidden, private_changed = _remote_changes(
        appointment, agent, before, after, templated=templated, settings=settings
    )
    was = (appointment.start, appointment.end)
    if appointment.is_recurring_master:
        before_rules = sorted(mapping.normalise_rrule(r) for r in before.rrules) if before else None
        after_rules = sorted(mapping.normalise_rrule(r) for r in after.rrules)
        rules_changed = before is None or (before_rules, before.rdates) != (after_rules, after.rdates)
        new_rule = _rule_text(after, agent, settings=settings) if rules_changed and after.rrules else None
        if changes:
            # Moved first: the helpdesk's exceptions move with the series (update_appointment), then
            # the remote's own, which name the new starts (RFC 5545 3.8.5.1, 3.8.4.4), are taken.
            # The remote's rule as it stands, changed or not: its UNTIL is the remote's, not shifted here.
            remote_rule = (
                new_rule if new_rule is not None or not after.rrules else _rule_text(after, agent, settings=settings)
            )
            appointment = calendar_services.update_appointment(appointment, next_rule=remote_rule, **changes)
        if new_rule is not None:
            # The remote's EXDATEs are the whole set: it may have undone a cancellation in the same edit.
            calendar_services.change_schedule(appointment, rule=new_rule, cancelled_as_given=True)
        else:
            calendar_services.keep_cancelled_starts(appointment, _cancelled_starts(after, agent))
        _apply_exceptions(appointment, agent, before, after, settings)
    elif changes:
        appointment = calendar_services.update_appointment(appointment, **changes)
    if hidden and private_changed:
        _blank_private(appointment)
    if appointment.request_id is not None and ("start" in changes or "end" in changes):
        line = _times_line(agent, was, (appointment.start, appointment.end))
        if line:
            record_on_request(appointment.request_id, agent, line)
    return appointment


def apply_remote_reminder(
    appointment: Appointment, minutes: int | None, *, templated: bool, settings: CalendarSettings
) -> Appointment:
    """The appointment's reminder (minutes before the start; None: the alarm was removed) as the
    external calendar now has it, when only that changed there (SPEC S3.5; the engine decides
    when it is taken). A series' master passes it on to its occurrences not edited on their own
    (`update_appointment`). `templated`: a helpdesk-made entry, whose unset reminder is the global
    default: a removed alarm is stored as "no reminder" there (`_reminder_changes`).
    Raises ValidationError as `update_appointment` does."""
    changes = _reminder_changes(appointment, minutes, templated=templated, settings=settings)
    if not changes:
        return appointment
    return calendar_services.update_appointment(appointment, **changes)


def _reminder_changes(
    appointment: Appointment, minutes: int | None, *, templated: bool, settings: CalendarSettings
) -> dict:
    """The appointment's reminder fields that change for the external calendar's reminder `minutes`
    ({} when the appointment already has it). A removed alarm (None) on an entry whose unset
    reminder is the global default (a helpdesk-made one, `mapping.local_event`) is stored as "no
    reminder" (`no_reminder`), never as "not set", which would bring the default back."""
    default = settings.default_reminder(appointment.all_day) if templated else None
    if appointment.reminder(default) == minutes:
        return {}
    wanted = calendar_services.reminder_fields(minutes, minutes is None and default is not None)
    return {name: value for name, value in wanted.items() if getattr(appointment, name) != value}


def _times_line(agent: Agent, was: tuple, now: tuple) -> str:
    """The request's history line for new times from `agent`'s calendar ((start, end) pairs, aware
    or dates): "Moved ... to <start>" when the start moved, with the new length when that changed
    too; "Resized ... : now ends <end> (length <h min>)" when only the end moved (trial 5: the
    line named the unchanged start as a move); "" when neither moved."""
    (old_start, old_end), (start, end) = was, now
    where = f"on {agent.name}'s calendar"
    if isinstance(start, datetime):
        length, ends = f"length {duration_text(times.exact_length(start, end))}", f"ends {_when(end, agent)}"
    else:  # days: the end is the day after the last (RFC 5545 3.6.1)
        length = ends = f"until {_when(end - timedelta(days=1), agent)}"
    if start != old_start:
        # Exact lengths: two times on one zone are subtracted on its wall clock (a DST night's hour lost).
        resized = times.exact_length(start, end) != times.exact_length(old_start, old_end)
        return f"Moved {where} to {_when(start, agent)}" + (f" ({length})" if resized else "")
    if end != old_end:
        return f"Resized {where}: now {ends}" + (f" ({length})" if length != ends else "")
    return ""


def _when(moment: datetime | date, agent: Agent) -> str:
    """A moment as the request's history says it: an instant kept as one (helpdesk.moments.
    history_moment), written on each reader's clock with its zone's abbreviation ("Thu 3 Dec 2026
    09:00 EST"); a date as a date, the same on every clock."""
    if isinstance(moment, datetime):
        return history_moment(moment)
    return day_text(moment)


def record_on_request(request_id: int, agent: Agent, text: str, *, now: datetime | None = None) -> None:
    """A line in the request's history (`tickets.services.record_history`) for what reached it from
    `agent`'s external calendar, so the coordinator sees it on the request: a re-plan on the phone,
    a deletion, a conflict the sync decided. `now` (aware, default now): when it happened."""
    from tickets import services as ticket_services  # tickets.services imports calendars.services

    ticket_services.record_history(request_id, text, agent=agent, at=now, zone=agent.zone)


def updated_row(
    appointment: Appointment,
    agent: Agent,
    before: RemoteEvent | None,
    after: RemoteEvent,
    *,
    templated: bool,
    settings: CalendarSettings,
) -> tuple[Appointment, set[str]]:
    """The per-entry step of a batched pull: what `apply_remote_update` would write to a single
    appointment of `agent` alone, on a copy checked in Python only (no query), unsaved
    (`calendar_services.changed_appointment`); with the fields to write (none: nothing changed,
    the appointment itself comes back). Write many with `write_updated_rows`.

    Raises ValueError for an entry the batch does not take (a series on either side, an entry
    turning private, whose text `_blank_private` wipes from the sync log too): the engine applies
    those with `apply_remote_update`; ValidationError for values the helpdesk cannot store.
    """
    if appointment.is_recurring_master or appointment.is_occurrence or after.is_recurring:
        raise ValueError("A series is brought in step on its own.")
    changes, hidden, private_changed = _remote_changes(
        appointment, agent, before, after, templated=templated, settings=settings
    )
    if hidden and private_changed:
        raise ValueError("An entry turning private is blanked on its own.")
    if not changes:
        return appointment, set()
    return calendar_services.changed_appointment(appointment, zone=agent.zone, **changes)


def write_updated_rows(rows: list[tuple[Appointment, set[str]]]) -> None:
    """Save the appointments `updated_row` changed, all at once (one UPDATE a batch of rows); no
    `appointment_changed` is sent. Raises what the database raises."""
    changed = [appointment for appointment, fields in rows if fields]
    calendar_services.save_changed(changed, set().union(*(fields for _a, fields in rows)))


def _remote_changes(
    appointment: Appointment,
    agent: Agent,
    before: RemoteEvent | None,
    after: RemoteEvent,
    *,
    templated: bool,
    settings: CalendarSettings,
) -> tuple[dict[str, object], bool, bool]:
    """The appointment's own fields `apply_remote_update` changes (by name, as
    `update_appointment` takes them), whether the entry is hidden (external and private) and
    whether its privacy changed since `before`."""
    changes: dict[str, object] = {}
    if before is None or (before.start, before.end, before.all_day) != (after.start, after.end, after.all_day):
        start, end = _span(after, agent)
        if not calendar_services.same_span(appointment, start, end) or after.all_day != appointment.all_day:
            changes.update(start=start, end=end)
        if after.all_day != appointment.all_day:
            changes["all_day"] = after.all_day
    zone = _new_series_zone(appointment, before, after)
    if zone is not None:
        # With the external calendar's own instants (review 8 F2): alone, update_appointment keeps
        # the wall clock on the new zone (the edit page's meaning), which moves a series whose
        # instants the external calendar kept by the zones' difference. Kept at the same instants
        # too: the later occurrences follow the new zone's wall clock (RFC 5545 3.3.10).
        changes.update(time_zone=zone, keep_instants=True)
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
    # Changed there: the engine's `before` holds the entry's own reminder otherwise.
    reminder_changed = before is not None and before.reminder_minutes != after.reminder_minutes
    if reminder_changed:
        changes.update(_reminder_changes(appointment, after.reminder_minutes, templated=templated, settings=settings))
    return changes, hidden, private_changed


def _new_series_zone(appointment: Appointment, before: RemoteEvent | None, after: RemoteEvent) -> ZoneInfo | None:
    """The clock a timed series was put on in the external calendar (its DTSTART's zone, on whose
    wall clock RFC 5545 3.3.10 repeats the rule), when that changed since `before` (or differs
    from the helpdesk's, `before` being None or the helpdesk's entry) and names a zone other than
    the series' own; else None. Without it the helpdesk would repeat the series on its old clock,
    an hour off the external calendar in the weeks the two zones' DST differs, and the exceptions
    re-keyed onto the new clock (review 7 F2b) would name none of its occurrences."""
    if not appointment.is_recurring_master or appointment.all_day or not isinstance(after.start, datetime):
        return None
    if after.start.tzinfo is None or (before is not None and before.time_zone == after.time_zone):
        return None
    if not after.zone_named:
        # The reader only fell back to `time_zone` (a floating time, a name or TZID it could not
        # resolve, Graph's "tzone://Microsoft/Custom", a series on its own VTIMEZONE): no clock the
        # organiser chose, so the series keeps its own (review 8 F1). A zone named UTC is one.
        return None
    zone = times.zone_named(after.time_zone)
    own = calendar_services.schedule_zone(appointment.schedule)
    if zone is None or zone == own:
        return None
    # Another name for the same clock (a Windows name read back as Europe/Berlin for a series on
    # Europe/Amsterdam) is no move: the series keeps its own zone.
    days = (after.start + timedelta(days=n) for n in range(367))
    if all(day.astimezone(zone).utcoffset() == day.astimezone(own).utcoffset() for day in days):
        return None
    return zone


def deletion_words(agent: Agent, *, others: bool) -> str:
    """The sync log's sentence for an entry deleted in `agent`'s calendar: `others`, the
    appointment (every occurrence of a series) stays for the other technicians on it; else it
    goes from the helpdesk."""
    if others:
        return f"Deleted from {agent.name}'s calendar: {agent.name} taken off it; it stays for the others."
    return f"Deleted from {agent.name}'s calendar: gone from the helpdesk too."


def remove_for_remote_deletion(appointment: Appointment, agent: Agent, *, now: datetime | None = None) -> str:
    """An entry deleted in the external calendar: the technician leaves the appointment (the
    others on it keep it, and their entries); an appointment with nobody left goes (SPEC S3.8).
    Returns the sync log's sentence saying which (`deletion_words`).

    An appointment of a request leaves a line in the request's history (`tickets.services.
    record_history`) naming whose calendar it was deleted from and when (`now`, UTC, default
    now; written on each reader's clock): a planned request unplanned this way says
    "Unplanned from Carol's calendar on Mon 30 Nov 2026 22:50 CET", so the coordinator sees it."""
    request_id = appointment.request_id
    source = appointment.source
    others = appointment.agents.exclude(pk=agent.pk).exists()
    calendar_services.leave_appointment(appointment, agent)
    said = deletion_words(agent, others=others)
    if request_id is None:
        return said
    moment = (now or datetime.now(UTC)).astimezone(agent.zone)
    when = history_moment(moment)
    calendar = f"{agent.name}'s calendar"
    if others:
        text = f'{agent.name} taken off the appointment "{appointment.subject}": deleted from {calendar} on {when}'
    elif source == Appointment.Source.PLANNED:
        text = f"Unplanned from {calendar} on {when}"
    else:
        text = f'Appointment "{appointment.subject}" deleted from {calendar} on {when}'
    record_on_request(request_id, agent, text, now=moment)
    return said


# --- a shared appointment: one technician's calendar speaks for that technician only ---------------

SHARED_MESSAGE = (
    "Shared with {count} technicians: change it in the helpdesk. Only taking part or not is read from one calendar."
)


def is_shared(appointment: Appointment) -> bool:
    """Is this an appointment of several technicians, each with their own entry of it? Such an
    entry's change in one technician's calendar is that technician's answer as an attendee
    (Exchange/Outlook, Google: an attendee's change stays on their own copy), never a change for
    all (`apply_attendee_update`). An imported (external) appointment has one technician and is
    never shared (calendars.ownership)."""
    if appointment.source == Appointment.Source.EXTERNAL:
        return False
    return len(mapping.agents_of(appointment)) > 1


def apply_attendee_update(
    appointment: Appointment, agent: Agent, before: RemoteEvent | None, after: RemoteEvent
) -> list[str]:
    """What one technician's changed entry of a shared appointment (`is_shared`) does: only their
    own attendance changes. An occurrence newly cancelled there (an EXDATE, a cancelled instance;
    new since `before`, the entry as last synced) is left by this technician alone
    (`calendar_services.leave_occurrence`: it stays for the others, and is cancelled when nobody
    is left). Every other change (a move, a new length, a new text, a changed rule, an occurrence
    moved on its own) is not applied: the engine writes the helpdesk's version back to that
    calendar. Returns one plain sentence for each occurrence left, for the sync log."""
    if not appointment.is_recurring_master or not after.exdates:
        return []
    zone = _series_zone(after, agent)

    def key_of(value: datetime | date) -> datetime | date:
        return _occurrence_key(appointment, agent, value)

    known = {key_of(d) for d in (before.exdates if before else [])}
    occurrences = {occ.original_start: occ for occ in appointment.occurrences.all()}
    done = []
    for exdate in after.exdates:
        key = key_of(exdate)
        occurrence = _occurrence_for(key, occurrences, zone)
        if key in known or occurrence is None or occurrence.is_cancelled:
            continue
        if all(other.pk != agent.pk for other in occurrence.agents.all()):
            continue
        left = calendar_services.leave_occurrence(occurrence, agent)
        day = when_text(occurrence.original_start, agent.zone)
        if left.is_cancelled:
            done.append(f"The occurrence of {day} cancelled: {agent.name} was the last technician on it.")
        else:
            done.append(f"{agent.name} taken off the occurrence of {day} only; it stays for the others.")
    return done


def remove_many_for_remote_deletion(appointments: list[Appointment]) -> int:
    """Entries deleted in the external calendar, each an imported appointment (or series) on
    the syncing technician's calendar alone: what `remove_for_remote_deletion` does to each
    (the appointment goes, with its occurrences), in a fixed number of statements and with no
    `appointment_changed` (nobody else holds them). Returns the appointment rows deleted."""
    return calendar_services.delete_imported(appointment.pk for appointment in appointments)
