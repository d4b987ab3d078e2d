"""The weekly series every connector's sync suite pushes, and the helpdesk's side of it."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from calendars import services as calendar_services
from calendars.models import Appointment
from helpdesk.moments import when_text
from integrations.providers.base import RemoteEvent

HOUR = timedelta(hours=1)


def make_daily_series(agent, start, subject="S1 stand-up"):
    """A daily series of four in the helpdesk, an hour each from `start`. Returns the master."""
    return calendar_services.create_recurring_appointment(
        rule="RRULE:FREQ=DAILY;COUNT=4", agents=[agent], start=start, end=start + HOUR, subject=subject
    )


# A series on New York's clock: 09:00 there on Mondays in March 2027 (trial fault 2's weeks).
NEW_YORK_SERIES_START = datetime(2027, 3, 8, 9, 0, tzinfo=ZoneInfo("America/New_York"))


def series_on_another_clock(agent, capture_on_commit, *, zone: str = "America/New_York", start=None) -> Appointment:
    """A weekly series of four for `agent` repeating on `zone`'s wall clock (not the technician's),
    from `start` (default NEW_YORK_SERIES_START), committed (so pushed). Returns the master."""
    start = start or NEW_YORK_SERIES_START
    with capture_on_commit(execute=True):
        [master] = calendar_services.create_appointments(
            agents=[agent],
            one_each=True,
            rule="FREQ=WEEKLY;BYDAY=MO;COUNT=4",
            time_zone=zone,
            subject="Joint weekly",
            start=start,
            end=start + HOUR / 2,
        )
    return master


def weekly_four_of(agent, start, capture_on_commit):
    """`agent`'s weekly series of four ("Weekly", an hour each from `start`), committed (so pushed).
    Returns the master."""
    with capture_on_commit(execute=True):
        return calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=WEEKLY;COUNT=4", agents=[agent], start=start, end=start + HOUR, subject="Weekly"
        )


@dataclass
class GivenAway:
    """Alice's weekly series of four (`weekly_four_of`), bob connected too: what the tests of an
    occurrence given to another technician start from (trial fault 2)."""

    master: Appointment
    occurrences: list  # in start order
    window: tuple  # (start, end) holding every occurrence
    starts: list  # every occurrence's start, in UTC


def series_to_give_away(alice, bob, connection, start, capture_on_commit) -> GivenAway:
    """Bob's calendar connected on `connection` (integrations.services.connect_agent), and alice's
    weekly series of four from `start`, committed (so pushed)."""
    from integrations import services

    services.connect_agent(bob, connection=connection)
    master = weekly_four_of(alice, start, capture_on_commit)
    occurrences = list(master.occurrences.order_by("original_start"))
    return GivenAway(
        master,
        occurrences,
        (start - timedelta(days=1), start + timedelta(weeks=5)),
        sorted(o.start.astimezone(UTC) for o in occurrences),
    )


def make_weekly_series(agent, start, capture_on_commit):
    """A weekly series of six in the helpdesk, its second occurrence moved, its third cancelled, each
    change committed (so pushed) on its own. Returns the master."""
    with capture_on_commit(execute=True):
        master = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=WEEKLY;COUNT=6", agents=[agent], start=start, end=start + HOUR, subject="Weekly check"
        )
    occurrences = list(master.occurrences.order_by("original_start"))
    with capture_on_commit(execute=True):
        calendar_services.update_appointment(
            occurrences[1], start=occurrences[1].start + 3 * HOUR, end=occurrences[1].end + 3 * HOUR
        )
    with capture_on_commit(execute=True):
        calendar_services.cancel_occurrence(occurrences[2])
    return master


def check_series_shown(master, shown: list[tuple], subjects: list[str]) -> None:
    """The other side's view of the series (`shown`: (start, subject) in start order, read from the
    server's own state) names its occurrences `subjects`, and the helpdesk shows the same."""
    assert [subject for _, subject in shown] == subjects
    occurrences = Appointment.objects.visible().filter(master=master).order_by("start")
    assert [(o.start, o.subject) for o in occurrences] == shown


def helpdesk_view(master, start, end) -> list[tuple]:
    """(start, end, subject) of the series' visible occurrences starting in [start, end)."""
    return list(
        Appointment.objects.visible()
        .filter(master=master, start__gte=start, start__lt=end)
        .order_by("start")
        .values_list("start", "end", "subject")
    )


def helpdesk_view_utc(start, end) -> list[tuple]:
    """(start, end, subject) in UTC of every visible occurrence of any series starting in [start, end)."""
    shown = Appointment.objects.visible().filter(master__isnull=False, start__gte=start, start__lt=end)
    return sorted((s.astimezone(UTC), e.astimezone(UTC), t) for s, e, t in shown.values_list("start", "end", "subject"))


def rename_moved_weekly_series(master, agent_calendar, other_view, window, first, capture_on_commit) -> None:
    """Rename `make_weekly_series`' series (moved an hour later in the other client) in the helpdesk,
    push and pull it, and check the other side (`other_view(start, end)`: (start, end, subject) in
    UTC, read from the server's own state) shows what the helpdesk holds: the six weekly
    occurrences an hour after `first`, renamed, none of the old exceptions back."""
    from integrations.sync import engine

    with capture_on_commit(execute=True):
        calendar_services.update_appointment(Appointment.objects.get(pk=master.pk), subject="Weekly check, call first")
    engine.sync_agent_calendar(type(agent_calendar).objects.get(pk=agent_calendar.pk), pull=True)
    shown = other_view(*window)
    assert shown == helpdesk_view_utc(*window)
    assert [(s, t) for s, _e, t in shown] == [
        ((first + timedelta(weeks=n) + HOUR).astimezone(UTC), "Weekly check, call first") for n in range(6)
    ]


def pushed_series(agent_calendar, rule: str, span: tuple, capture_on_commit, **fields) -> Appointment:
    """A series on the technician of `agent_calendar` ("Weekly check" unless `fields` say
    otherwise) from `span` (start, end: aware, or dates for all-day), pushed on commit."""
    with capture_on_commit(execute=True):
        return calendar_services.create_recurring_appointment(
            rule=rule,
            agents=[agent_calendar.agent],
            start=span[0],
            end=span[1],
            **{"subject": "Weekly check", **fields},
        )


def stop_a_pushed_series(agent_calendar, capture_on_commit, *request_logs: list) -> tuple:
    """A weekly series of eight in the helpdesk that began three weeks and a day ago (09:00 UTC),
    pushed and pulled, then stopped now (`calendar_services.stop_repeating`, pushed on commit).
    Returns (the starts it keeps: dateutil's rrule before now, the window to look at: from a day
    before the first start to eight weeks after it, and for each of `request_logs`, a peer's list
    of the requests it answered, what it received from the stop on)."""
    from dateutil import rrule
    from django.utils import timezone

    from integrations.sync import engine

    first = (
        (timezone.now() - timedelta(weeks=3, days=1)).astimezone(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    )
    master = pushed_series(
        agent_calendar, "FREQ=WEEKLY;COUNT=8", (first, first + HOUR), capture_on_commit, time_zone="UTC"
    )
    engine.sync_agent_calendar(type(agent_calendar).objects.get(pk=agent_calendar.pk), pull=True)
    marks = [len(log) for log in request_logs]
    now = timezone.now()
    with capture_on_commit(execute=True):
        calendar_services.stop_repeating(Appointment.objects.get(pk=master.pk), now=now)
    kept = [day for day in rrule.rrule(rrule.WEEKLY, count=8, dtstart=first) if day < now]
    assert len(kept) == 4
    sent = [log[mark:] for log, mark in zip(request_logs, marks, strict=True)]
    return kept, (first - timedelta(days=1), first + timedelta(weeks=8)), sent


def kept_view(kept: list, subject: str = "Weekly check") -> list[tuple]:
    """(start, end, subject) in UTC of the occurrences a stopped series keeps."""
    return [(day.astimezone(UTC), (day + HOUR).astimezone(UTC), subject) for day in kept]


def check_stopped_as_rule_change(updates: list, deletes: list, shown: list[tuple], kept: list, window) -> None:
    """A stopped series reached the server as one update of its entry and no deletion
    (`updates`, `deletes`: the server's write requests after the stop), and the server's own
    view (`shown`: (start, end, subject) in UTC over `window`) is the past it keeps, as the
    helpdesk shows it."""
    assert (len(updates), deletes) == (1, []), (updates, deletes)
    assert shown == kept_view(kept) == helpdesk_view_utc(*window)


def weekly_series_with_an_extra_date(start: datetime) -> RemoteEvent:
    """A helpdesk series as a connector writes it: weekly from `start` (aware, Europe/Amsterdam wall
    clock), 4 times, with one extra start (RFC 5545 RDATE) two days later at 14:00."""
    return RemoteEvent(
        start=start,
        end=start + timedelta(hours=1),
        subject="Backup check",
        time_zone="Europe/Amsterdam",
        rrules=["FREQ=WEEKLY;COUNT=4"],
        rdates=[start + timedelta(days=2, hours=5)],
        marker="helpdesk-rdate-1",
    )


# An Outlook "Customized Time Zone" no IANA zone matches: +03:00, +04:00 from the last Sunday of March.
OWN_ZONE_BLOCK = "\r\n".join(
    [
        "BEGIN:VTIMEZONE",
        "TZID:Customized Time Zone",
        "BEGIN:STANDARD",
        "DTSTART:16010101T030000",
        "TZOFFSETFROM:+0400",
        "TZOFFSETTO:+0300",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:16010101T020000",
        "TZOFFSETFROM:+0300",
        "TZOFFSETTO:+0400",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
        "",
    ]
)


def series_on_its_own_zone(start: datetime) -> RemoteEvent:
    """A helpdesk series as a connector is handed it when it repeats on its organiser's own
    VTIMEZONE (`OWN_ZONE_BLOCK`, kept from a CalDAV invitation): weekly from `start` (aware), 8 times."""
    return RemoteEvent(
        start=start,
        end=start + timedelta(hours=1),
        subject="Weekly call",
        time_zone="UTC",
        zone_block=OWN_ZONE_BLOCK,
        rrules=["FREQ=WEEKLY;COUNT=8"],
        marker="helpdesk-own-zone-1",
    )


def make_series_with_an_extra_date(agent, start, capture_on_commit):
    """A weekly series of four in the helpdesk with one extra start (RFC 5545 RDATE) the day after
    its first, pushed on commit. Returns the master."""
    extra = (start + timedelta(days=1)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    with capture_on_commit(execute=True):
        return calendar_services.create_recurring_appointment(
            rule=f"RRULE:FREQ=WEEKLY;COUNT=4\nRDATE:{extra}",
            agents=[agent],
            start=start,
            end=start + HOUR,
            subject="Backup check",
        )


def extra_dates_refusal_logged(agent, system: str) -> None:
    """The technician's sync log as the pages show it (`selectors.recent_log`) holds one outbound
    create refused with the message a coordinator acts on: what `system` cannot hold, that nothing
    was written there, and what to do instead."""
    from integrations import selectors
    from integrations.models import SyncLogEntry

    logged = [
        (entry.direction, entry.operation, entry.result, entry.message)
        for entry in selectors.recent_log(agent)
        if "extra dates" in entry.message
    ]
    assert logged == [
        (
            SyncLogEntry.Direction.OUTBOUND,
            "create",
            SyncLogEntry.Result.ERROR,
            f"{system} cannot hold a series with extra dates (RDATE: 1 date besides the repeat rule); the series was"
            " not written there. Make the extra dates appointments of their own to see them in that calendar.",
        )
    ]


def with_a_moved_and_a_cancelled_occurrence(
    agent, capture_on_commit, *, rule: str, start: datetime, moved: int, cancelled: int, later: timedelta
) -> Appointment:
    """A series by `rule` for `agent` from `start`, an hour each, its occurrence number `moved`
    (0-based) moved `later` on its own and number `cancelled` cancelled, each change committed
    (so pushed) on its own. Returns the master."""
    with capture_on_commit(execute=True):
        master = calendar_services.create_recurring_appointment(
            rule=rule, agents=[agent], start=start, end=start + HOUR, subject="Stand-up"
        )
    occurrences = list(master.occurrences.order_by("original_start"))
    with capture_on_commit(execute=True):
        calendar_services.update_appointment(
            occurrences[moved], start=occurrences[moved].start + later, end=occurrences[moved].end + later
        )
    with capture_on_commit(execute=True):
        calendar_services.cancel_occurrence(occurrences[cancelled])
    return master


def own_zone_series_refused_keeps_one_line(agent_calendar, capture_on_commit, start, system: str) -> None:
    """Task push 5 on a connector that takes only IANA or Windows zones (`system`: Microsoft 365,
    Exchange, Google Calendar): a helpdesk series on its organiser's own VTIMEZONE (`OWN_ZONE_BLOCK`
    under a TZID of its own, see calendars.ical_zones) is refused at its push and at every retry
    after the link's back-off; the sync log keeps one line for it, counting the attempts."""
    from integrations.models import SyncLink, SyncLogEntry
    from integrations.sync import engine

    tzid = f"Customized Time Zone {system}"
    block = OWN_ZONE_BLOCK.replace("TZID:Customized Time Zone\r\n", f"TZID:{tzid}\r\n")
    with capture_on_commit(execute=True):
        calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=WEEKLY;COUNT=8",
            agents=[agent_calendar.agent],
            start=start,
            end=start + HOUR,
            subject="Weekly call",
            zone_block=block,
        )
    for _ in range(3):  # each retry once the link's back-off has ended
        link = SyncLink.objects.get()
        agent_calendar.refresh_from_db()
        engine.sync_agent_calendar(agent_calendar, pull=False, now=link.next_attempt_at + timedelta(seconds=1))

    assert SyncLink.objects.get().failures == 4 and not SyncLink.objects.get().remote_id
    (logged,) = SyncLogEntry.objects.filter(result=SyncLogEntry.Result.ERROR)
    assert (logged.direction, logged.operation, logged.tries) == (SyncLogEntry.Direction.OUTBOUND, "create", 4)
    assert logged.message.startswith(
        f"{system} cannot hold a series that repeats on its organiser's own time zone “{tzid}”"
    )
    assert logged.first_at is not None and logged.first_at < logged.created_at


def phone_rule_drops_a_moved_occurrence(
    agent_calendar, capture_on_commit, start, change_rule, *, server_drops_exceptions: bool = False
) -> list:
    """Task push 2 on any connector: `make_weekly_series` (its second occurrence moved, its third
    cancelled, both pushed), then the technician's own client ends the series after its first
    occurrence (`change_rule(remote_id)`, the way that client and its server do it) and the helpdesk
    pulls. The moved occurrence is gone in the helpdesk, and one log line names it: with
    `server_drops_exceptions` (Exchange, Microsoft 365: a new pattern loses the exceptions), the
    pull's, saying it went with the new rule. Returns the log lines the pull wrote, for the caller
    to check with what its server holds."""
    from integrations.models import SyncLink, SyncLogEntry
    from integrations.sync import engine

    master = make_weekly_series(agent_calendar.agent, start, capture_on_commit)
    moved = list(master.occurrences.order_by("original_start"))[1]
    change_rule(SyncLink.objects.get(appointment=master).remote_id)
    before = SyncLogEntry.objects.count()

    with capture_on_commit(execute=True):
        agent_calendar.refresh_from_db()
        engine.sync_agent_calendar(agent_calendar, pull=True)

    shown = Appointment.objects.visible().filter(master=master)
    assert list(shown.values_list("original_start", flat=True)) == [start]
    assert not shown.filter(pk=moved.pk).exists()
    lines = list(SyncLogEntry.objects.order_by("id")[before:])
    # One line names the moved occurrence (by its original start, on the technician's clock).
    when = when_text(moved.original_start, ZoneInfo(str(agent_calendar.agent.zone)))
    naming = [line for line in lines if when in line.message]
    assert len(naming) == 1, [line.message for line in lines]
    if server_drops_exceptions:  # not "back as the series has it": the rule no longer gives it
        assert (naming[0].direction, naming[0].operation) == (SyncLogEntry.Direction.INBOUND, "update")
        assert f"the occurrence of {when} gone with the series' new rule" in naming[0].message
    return lines


def renamed_from_the_fourth(capture_on_commit, subject: str) -> Appointment:
    """The helpdesk's only series renamed to `subject` from its fourth occurrence on ("this and
    following", which splits it), committed (so pushed). Returns the new series' master."""
    from calendars.models import EditScope

    series = Appointment.objects.get(master__isnull=True)
    fourth = series.occurrences.order_by("original_start")[3]
    with capture_on_commit(execute=True):
        return calendar_services.edit_occurrences(fourth, scope=EditScope.FOLLOWING, subject=subject)
