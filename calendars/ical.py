"""Appointments as iCalendar (RFC 5545): the phone subscription feed and e-mail attachments.

Built with the `icalendar` library. Every appointment keeps one UID for life and carries its
SEQUENCE and LAST-MODIFIED, so a phone updates an entry instead of adding a second one.
A recurring series is one VEVENT with RRULE (repeating on the schedule's wall clock, so DST
changes do not shift it), EXDATE for occurrences cancelled (or, in a technician's feed, taken
off that technician), and one RECURRENCE-ID VEVENT per occurrence edited on its own.
An imported private entry is only a busy block: no subject, body or location.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import recurrence as recurrence_lib
from django.conf import settings as django_settings
from django.utils import timezone
from icalendar import Alarm, Calendar, Event, Timezone, vDuration, vRecur, vText

from calendars import ical_zones, privacy, times
from calendars.formatting import entry_title
from calendars.ical_text import TextComponent
from calendars.models import ALL_DAY_REMINDER_MINUTES, Appointment, CalendarSettings, Schedule
from calendars.selectors import FeedEntries, future_exceptions, occurrence_starts, schedule_zone
from calendars.vtimezone import add_missing_vtimezones, covering_days, entry_span, vtimezone

PRODID = "-//Helpdesk//Technician calendars//EN"
BUSY_SUMMARY = privacy.BUSY_SUMMARY
MAX_DESCRIPTION = 8000  # phones choke on huge notes; the helpdesk page has the full text
REFRESH_INTERVAL = timedelta(minutes=15)


def uid_domain() -> str:
    """The right-hand side of our UIDs: the first real host name this site answers to."""
    for host in django_settings.ALLOWED_HOSTS:
        host = host.lstrip(".")
        if host and host != "*" and not host.startswith("["):
            return host
    return "helpdesk.invalid"


def appointment_uid(appointment_id: int) -> str:
    return f"appointment-{appointment_id}@{uid_domain()}"


def is_busy_block(appointment: Appointment) -> bool:
    """S2.5: an imported private entry shows only its time, to everyone (calendars.privacy)."""
    return privacy.is_hidden(appointment)


@dataclass(frozen=True)
class EventStyle:
    """How entries are written: the feed owner's zone, the reminder, and whether to name the
    technicians (a coordinator's team feed does)."""

    zone: ZoneInfo
    reminder_minutes: int | None = None
    # An all-day entry's default (calendars.models.ALL_DAY_REMINDER_MINUTES: 06:00 the day before,
    # not `reminder_minutes` before its midnight).
    all_day_reminder_minutes: int | None = ALL_DAY_REMINDER_MINUTES
    show_agents: bool = False
    status: str = "CONFIRMED"  # or CANCELLED, in an e-mail about a cancellation

    @classmethod
    def for_settings(cls, calendar_settings: CalendarSettings, *, zone: ZoneInfo, **kwargs) -> "EventStyle":
        return cls(
            zone=zone,
            reminder_minutes=calendar_settings.reminder_minutes,
            all_day_reminder_minutes=calendar_settings.all_day_reminder_minutes,
            **kwargs,
        )


# --- values -------------------------------------------------------------------------------

# What an event is built into: icalendar's objects (e-mail), or the feed's
# writer (`TextComponent`, the same calls written straight to text). Called with "VEVENT" or
# "VALARM".
ComponentFactory = Callable[[str], Event | Alarm | TextComponent]


def icalendar_component(name: str) -> Event | Alarm:
    """A new, empty icalendar Event ("VEVENT") or Alarm ("VALARM")."""
    return Event() if name == "VEVENT" else Alarm()


def _moment(value: datetime, zone: ZoneInfo, all_day: bool, *, repeats: bool = False) -> datetime | date:
    """A DATE (all day, on `zone`) or DATE-TIME as `times.outgoing` writes it: on `zone`'s wall
    clock, or in UTC when that wall clock is the second of two (RFC 5545 3.3.5). `repeats`: a
    series' DTSTART, kept on the wall clock its rule repeats on."""
    return value.astimezone(zone).date() if all_day else times.outgoing(value, zone, repeats=repeats)


def _instance(value: datetime, master: Appointment, zone: tzinfo) -> datetime | date:
    """A value naming an instance of `master`'s series (RECURRENCE-ID, EXDATE, RDATE) as
    `times.outgoing_instance` writes it: in DTSTART's form when it names DTSTART, else as an
    instant (the second of a repeated hour in UTC, so an extra start there is not read an hour
    early); a day for an all-day series."""
    if master.all_day:
        return value.astimezone(zone).date()
    return times.outgoing_instance(value, zone, dtstart=master.start)


def _description(appointment: Appointment, style: EventStyle) -> str:
    parts = []
    if appointment.note:
        parts.append(appointment.note[:MAX_DESCRIPTION])
    if appointment.request_id:
        parts.append(f"Request #{appointment.request_id}")
    if style.show_agents:
        parts.append("Technicians: " + ", ".join(agent.name for agent in appointment.agents.all()))
    return "\n\n".join(parts)


def _fill(
    event, appointment: Appointment, style: EventStyle, zone: ZoneInfo, component: ComponentFactory, *, repeats=False
) -> None:
    """The fields every VEVENT of an appointment has, for one-offs, masters and overrides alike.
    `repeats`: a series' master, whose DTSTART stays on the wall clock its rule repeats on."""
    if appointment.all_day:
        # Days, not times: the same days for a coordinator in another zone (RFC 5545 3.3.4).
        first, last = appointment.day_span(zone)
        event.add("dtstart", first)
        event.add("dtend", last)
    else:
        start, end = times.outgoing_span(appointment.start, appointment.end, zone, repeats=repeats)
        event.add("dtstart", start)
        event.add("dtend", end)
    stamp = appointment.updated_at or timezone.now()
    # No METHOD in the feed: DTSTAMP then means "last revised" (RFC 5545 3.8.7.2), which keeps
    # an unchanged feed byte-for-byte the same.
    event.add("dtstamp", stamp)
    event.add("last-modified", stamp)
    if appointment.created_at:
        event.add("created", appointment.created_at)
    event.add("sequence", appointment.sequence)
    # OPAQUE, CONFIRMED-less and PUBLIC are what a missing property means: a big feed stays smaller.
    if not appointment.busy:
        event.add("transp", "TRANSPARENT")
    if style.status != "CONFIRMED":
        event.add("status", style.status)
    if is_busy_block(appointment):
        event.add("summary", BUSY_SUMMARY)
        event.add("class", "PRIVATE")
        return
    # The title the calendars show: an action's entry reads "Work logged: ..." apart from the plan.
    summary = entry_title(appointment.source, appointment.subject)
    if style.show_agents:
        summary = f"{summary} ({', '.join(agent.name for agent in appointment.agents.all())})"
    event.add("summary", summary)
    if appointment.private:
        event.add("class", "PRIVATE")
    description = _description(appointment, style)
    if description:
        event.add("description", description)
    if appointment.location:
        event.add("location", appointment.location)
    minutes = appointment.reminder(style.all_day_reminder_minutes if appointment.all_day else style.reminder_minutes)
    if minutes is not None and style.status != "CANCELLED":
        alarm = component("VALARM")
        alarm.add("action", "DISPLAY")
        alarm.add("description", appointment.subject)
        alarm.add("trigger", timedelta(minutes=-minutes))
        event.add_component(alarm)


# --- events -------------------------------------------------------------------------------


def single_event(
    appointment: Appointment, style: EventStyle, *, component: ComponentFactory = icalendar_component
) -> Event | TextComponent:
    """A one-off appointment (or an occurrence shown on its own, outside its series)."""
    event = component("VEVENT")
    event.add("uid", appointment_uid(appointment.pk))
    _fill(event, appointment, style, style.zone, component)
    return event


def occurrence_event(
    occurrence: Appointment,
    master: Appointment,
    style: EventStyle,
    *,
    component: ComponentFactory = icalendar_component,
) -> Event | TextComponent:
    """One occurrence of a series, overriding what the rule gives at its original start."""
    zone = _written_zone(master.schedule)
    event = component("VEVENT")
    event.add("uid", appointment_uid(master.pk))
    event.add("recurrence-id", _instance(occurrence.original_start, master, zone))
    _fill(event, occurrence, style, zone, component)
    return event


def _rule_properties(master: Appointment, zone: ZoneInfo) -> list[tuple[str, object]]:
    """The series' django-recurrence rule as RRULE / EXRULE / RDATE / EXDATE values."""
    rule, all_day = master.schedule.recurrence, master.all_day
    properties: list[tuple[str, object]] = []
    # django-recurrence writes UNTIL in UTC as RFC 5545 requires with a TZID start; it reads
    # naive values in the current zone, so give it the schedule's.
    with timezone.override(zone):
        for name, rules in (("rrule", rule.rrules), ("exrule", rule.exrules)):
            for item in rules:
                text = recurrence_lib.serialize(recurrence_lib.Recurrence(rrules=[item]))
                value = vRecur.from_ical(text.split(":", 1)[1])
                if all_day and "UNTIL" in value:
                    value["UNTIL"] = [until.astimezone(zone).date() for until in value["UNTIL"]]
                properties.append((name, value))
        for name, moments in (("rdate", rule.rdates), ("exdate", rule.exdates)):
            for moment in moments:
                if timezone.is_naive(moment):
                    moment = moment.replace(tzinfo=zone)
                properties.append((name, _instance(moment, master, zone)))
    return properties


def _written_zone(schedule: Schedule) -> tzinfo:
    """The zone a series' times are written on: `schedule_zone`, but a series on its own VTIMEZONE
    under that block's TZID as written (`ical_zones.written_block`; `zone_blocks` gives the block)."""
    if schedule.zone_block:
        return ical_zones.zone_from_block(ical_zones.written_block(schedule.zone_block))
    return schedule_zone(schedule)


def zone_blocks(appointment: Appointment) -> frozenset[str]:
    """The VTIMEZONE blocks (text) an entry's written times need beside the tz database's: its
    series' own block as `_written_zone` names it, when the series keeps one (`Schedule.zone_block`)."""
    master = appointment.master if appointment.is_occurrence else appointment
    if master is None or not master.is_recurring_master or not master.schedule.zone_block:
        return frozenset()
    return frozenset([ical_zones.written_block(master.schedule.zone_block)])


def series_events(
    master: Appointment,
    style: EventStyle,
    *,
    exceptions: Iterable[Appointment] = (),
    on_feed: Callable[[Appointment], bool] = lambda occurrence: True,
    window: tuple[datetime, datetime] | None = None,
    component: ComponentFactory = icalendar_component,
) -> list[Event | TextComponent]:
    """A recurring series: its master VEVENT, then one VEVENT per occurrence edited on its own.

    `on_feed` says whether an occurrence belongs in this calendar (an occurrence moved to a
    technician outside the feed is left out there, as if cancelled). An edited occurrence whose
    original start the rule no longer gives (the series was moved after the edit) cannot be an
    override of the rule, so it goes out as an entry of its own, if it falls in `window`.
    `component` makes each VEVENT (and VALARM): icalendar's objects, or the feed's writer.
    """
    schedule = master.schedule
    zone = _written_zone(schedule)
    exceptions = sorted(exceptions, key=lambda occurrence: occurrence.original_start)
    not_made = [_stand_in(master, entry) for entry in future_exceptions(schedule)]
    horizon = max([master.start, *(occ.original_start for occ in [*exceptions, *not_made])]) + timedelta(seconds=1)
    # In UTC: PEP 495 makes a start in a repeated hour unequal to the same instant on another zone.
    rule_starts = {start.astimezone(UTC) for start in occurrence_starts(schedule, master, horizon)}

    event = component("VEVENT")
    event.add("uid", appointment_uid(master.pk))
    _fill(event, master, style, zone, component, repeats=True)
    for name, value in _rule_properties(master, zone):
        event.add(name, value)
    if times.as_read_on_wall_clock(master.start, zone) not in rule_starts:
        # RFC 5545 counts DTSTART as an occurrence; the helpdesk counts only what the rule gives.
        # Judged on the DTSTART written (on the wall clock, the first of a repeated hour): else
        # this EXDATE would cancel the rule's real first instance (review 7 F4).
        event.add("exdate", _instance(master.start, master, zone))
    overrides, separate = [], []
    for occurrence in exceptions:
        shown = not occurrence.is_cancelled and on_feed(occurrence)
        if occurrence.original_start.astimezone(UTC) in rule_starts:
            if shown:
                overrides.append(occurrence_event(occurrence, master, style, component=component))
            else:
                event.add("exdate", _instance(occurrence.original_start, master, zone))
        elif shown and (window is None or (occurrence.start < window[1] and occurrence.end > window[0])):
            separate.append(single_event(occurrence, style, component=component))
    overrides += [
        occurrence_event(o, master, style, component=component)
        for o in not_made
        if o.original_start.astimezone(UTC) in rule_starts
    ]
    return [event, *overrides, *separate]


def _stand_in(master: Appointment, entry: dict) -> Appointment:
    """An occurrence edited before it is made, as an unsaved appointment. It borrows the master's
    id, which only names the series' UID and its technicians here."""
    zone = schedule_zone(master.schedule)
    start, end = entry["start"], entry["end"]
    days = {}
    if not isinstance(start, datetime):
        days = {"start_date": start, "end_date": end}
        start, end = times.midnight(start, zone), times.midnight(end, zone)
    return Appointment(
        pk=master.pk,
        master=master,
        original_start=entry["original_start"],
        start=start,
        end=end,
        **days,
        subject=entry["subject"] if entry["subject"] is not None else master.subject,
        location=entry["location"] if entry["location"] is not None else master.location,
        note=master.note,
        all_day=master.all_day,
        private=master.private or bool(entry.get("private")),
        busy=master.busy or bool(entry.get("private")),
        reminder_minutes=master.reminder_minutes,
        no_reminder=master.no_reminder,
        source=master.source,
        request_id=master.request_id,
        sequence=master.sequence,
        created_at=master.created_at,
        updated_at=master.updated_at,
        is_modified=True,
    )


def new_calendar(name: str | None = None, *, method: str | None = None, zone: ZoneInfo | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        # TEXT (RFC 7986 5.1): icalendar would write these two unescaped, and a line break in a
        # technician's name would then break the feed.
        calendar.add("name", vText(name))
        calendar.add("x-wr-calname", vText(name))
        calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    # No X-WR-TIMEZONE: clients that honour it (Google, Apple) read UTC values as that zone's
    # wall clock, which would move a series that repeats in UTC. Every time carries its zone.
    return calendar


def finish(calendar: Calendar) -> Calendar:
    """Add a VTIMEZONE for every zone the entries use, covering every date they mention
    (`calendars.vtimezone.entry_span`, an endless series to its horizon)."""
    return add_missing_vtimezones(calendar, *entry_span(calendar, today=timezone.now().date()))


# --- the feed from cached fragments (issue 14) ------------------------------------------------


@dataclass(frozen=True)
class Fragment:
    """The VEVENTs of one feed entry as iCalendar text, with what the calendar around them
    needs: the TZIDs they use and the first and last date they mention."""

    text: bytes
    tzids: frozenset[str]
    first: date | None
    last: date | None
    # The series' own VTIMEZONE (`zone_blocks`), written as it is instead of one from the tz database.
    blocks: frozenset[str] = frozenset()


def fragment(events: list[TextComponent], blocks: frozenset[str] = frozenset()) -> Fragment:
    """One entry's events (from `single_event` or `series_events`, made with the feed's writer
    `TextComponent`) written out once; `blocks`: the entry's `zone_blocks`."""
    dates = [day for event in events for day in event.span]
    return Fragment(
        text=b"".join(event.to_ical() for event in events),
        tzids=frozenset().union(*(event.tzids for event in events)),
        first=min(dates, default=None),
        last=max(dates, default=None),
        blocks=blocks,
    )


def feed_fragments(entries: FeedEntries, style: EventStyle, *, on_feed, window) -> dict[int, Fragment]:
    """Each entry's fragment by appointment id: one-offs and series (master and overrides),
    written with the feed's own writer (`calendars.ical_text`), the text icalendar would write."""
    fragments = {
        appointment.pk: fragment([single_event(appointment, style, component=TextComponent)])
        for appointment in entries.singles
    }
    for master in entries.series:
        events = series_events(
            master,
            style,
            exceptions=entries.exceptions.get(master.pk, ()),
            on_feed=on_feed,
            window=window,
            component=TextComponent,
        )
        fragments[master.pk] = fragment(events, zone_blocks(master))
    return fragments


def timezone_text(tzid: str, first: date, last: date) -> bytes:
    """A VTIMEZONE for `tzid` covering first..last, as `finish` adds it (calendars.vtimezone);
    empty for a zone name zoneinfo does not know."""
    block = vtimezone(tzid, first, last)
    return b"" if block is None else block.to_ical()


def feed_text(name: str, style: EventStyle, fragments: Iterable[Fragment], *, timezones=timezone_text) -> bytes:
    """The whole feed from its entries' fragments, in order: the calendar's properties, a
    VTIMEZONE for every zone used (covering every date mentioned, as `finish` does), then the
    events. The same calendar icalendar writes for these events (tests/calendars/icalendar_feed.py),
    without building one object per entry."""
    fragments = list(fragments)
    head = new_calendar(name, zone=style.zone).to_ical()
    end = b"END:VCALENDAR\r\n"
    head = head[: -len(end)]
    dates = [d for f in fragments for d in (f.first, f.last) if d is not None]
    first, last = covering_days(dates, today=timezone.now().date())
    blocks = sorted(set().union(*(f.blocks for f in fragments))) if fragments else []
    own = {ical_zones.block_tzid(block) for block in blocks}
    tzids = sorted(set().union(*(f.tzids for f in fragments)) - own) if fragments else []
    zones = b"".join(timezones(tzid, first, last) for tzid in tzids) + "".join(blocks).encode()
    return b"".join([head, zones, *(f.text for f in fragments), end])


def appointment_calendar(
    appointment: Appointment, style: EventStyle, *, exceptions: Iterable[Appointment] = ()
) -> Calendar:
    """One appointment to attach to an e-mail: METHOD:PUBLISH, never REQUEST, so no mail client
    treats it as an invitation to answer."""
    calendar = new_calendar(method="PUBLISH")
    if appointment.is_recurring_master:
        events = series_events(appointment, style, exceptions=exceptions)
    elif appointment.is_occurrence:
        events = [occurrence_event(appointment, appointment.master, style)]
    else:
        events = [single_event(appointment, style)]
    for event in events:
        calendar.add_component(event)
    for block in sorted(zone_blocks(appointment)):
        calendar.add_component(Timezone.from_ical(block))
    return finish(calendar)
