"""A series another client changes as a whole (moved, its exceptions re-keyed or undone, its rule
changed): after the pull the helpdesk holds exactly the occurrences the entry on the server now
gives, and a later push of the series does not bring back an exception the entry dropped.

The other client writes the whole iCalendar object, as Apple Calendar, Thunderbird and Outlook do
when a series is moved: DTSTART, DTEND, every EXDATE and every RECURRENCE-ID shifted alike. The
right occurrences are recurring-ical-events' expansion of the text Radicale holds afterwards."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import AgentCalendar
from integrations.sync import engine
from tests.integrations.test_caldav_sync import pull
from tests.integrations.test_sync_regressions import importing  # noqa: F401 (fixture)
from tests.peers.radicale import AMSTERDAM

pytestmark = pytest.mark.django_db

UID = "phone-series-1"
ZONE = ZoneInfo("Europe/Amsterdam")
WEEK = timedelta(weeks=1)


def series_text(
    first: datetime,
    *,
    shift: timedelta = timedelta(0),
    rule: str = "FREQ=WEEKLY;COUNT=8",
    exdate: bool = True,
    override: bool = True,
) -> str:
    """The phone's weekly series from `first` (wall clock, Amsterdam), 45 minutes, its third
    occurrence cancelled (EXDATE) and its fourth moved two hours later with its own SUMMARY
    (RECURRENCE-ID), every time `shift`ed alike (the series moved whole)."""

    def at(moment: datetime) -> str:
        return f";TZID=Europe/Amsterdam:{moment + shift:%Y%m%dT%H%M%S}"

    cancelled, moved = first + 2 * WEEK, first + 3 * WEEK
    master = [
        "BEGIN:VEVENT",
        f"UID:{UID}",
        "DTSTAMP:20260101T000000Z",
        "SUMMARY:Weekly visit",
        f"DTSTART{at(first)}",
        f"DTEND{at(first + timedelta(minutes=45))}",
        f"RRULE:{rule}",
        *([f"EXDATE{at(cancelled)}"] if exdate else []),
        "END:VEVENT",
    ]
    child = [
        "BEGIN:VEVENT",
        f"UID:{UID}",
        "DTSTAMP:20260101T000000Z",
        f"RECURRENCE-ID{at(moved)}",
        f"DTSTART{at(moved + timedelta(hours=2))}",
        f"DTEND{at(moved + timedelta(hours=2, minutes=45))}",
        "SUMMARY:Weekly visit (moved)",
        "END:VEVENT",
    ]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Other client//EN", *AMSTERDAM, *master]
    return "\r\n".join([*lines, *(child if override else []), "END:VCALENDAR", ""])


def server_occurrences(phone, begin: datetime, end: datetime) -> list[tuple]:
    """(start, end, summary) of every occurrence of the entry Radicale holds, in UTC, as
    recurring-ical-events expands it."""
    calendar = icalendar.Calendar.from_ical(phone.by_uid(UID).data)
    return sorted(
        (i.decoded("dtstart").astimezone(UTC), i.decoded("dtend").astimezone(UTC), str(i["summary"]))
        for i in recurring_ical_events.of(calendar).between(begin, end)
    )


def helpdesk_occurrences(begin: datetime, end: datetime) -> list[tuple]:
    master = Appointment.objects.get(schedule__isnull=False)
    shown = Appointment.objects.visible().filter(master=master, start__gte=begin, start__lt=end)
    return sorted(
        (start.astimezone(UTC), stop.astimezone(UTC), s)
        for start, stop, s in shown.values_list("start", "end", "subject")
    )


@pytest.fixture
def first():
    day = timezone.localdate() + timedelta(days=2)
    return datetime(day.year, day.month, day.day, 9)


CHANGES = {
    # Apple Calendar / Thunderbird / Outlook moving the whole series an hour later.
    "moved an hour": {"shift": timedelta(hours=1)},
    "moved a day": {"shift": timedelta(days=1)},
    "moved occurrence put back": {"override": False},
    "cancelled occurrence brought back": {"exdate": False},
    "rule changed, exceptions dropped": {"rule": "FREQ=WEEKLY;INTERVAL=2;COUNT=4", "exdate": False, "override": False},
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_series_changed_whole_in_another_client_leaves_no_stale_exception(importing, alice_phone, first, change):  # noqa: F811
    alice_phone.calendar.save_event(ical=series_text(first))
    assert pull(importing).failed == 0
    begin, end = timezone.now(), timezone.now() + timedelta(weeks=20)
    assert helpdesk_occurrences(begin, end) == server_occurrences(alice_phone, begin, end)  # the start is right
    alice_phone.calendar.save_event(ical=series_text(first, **change))

    report = pull(importing)

    assert (report.pulled, report.failed) == (1, 0)
    want = server_occurrences(alice_phone, begin, end)
    assert helpdesk_occurrences(begin, end) == want
    master = Appointment.objects.get(schedule__isnull=False)
    held = {o.original_start for o in master.occurrences.filter(is_modified=True)}
    assert all(
        start.astimezone(ZONE).replace(tzinfo=None) >= first + change.get("shift", timedelta(0)) for start in held
    )
    assert master.schedule.future_exceptions == []


def test_series_moved_whole_then_renamed_in_the_helpdesk_pushes_no_stale_exception(
    importing,  # noqa: F811
    alice_phone,
    first,
    django_capture_on_commit_callbacks,
):
    """Item 3: after the move is pulled, a helpdesk rename pushes the series; the server then
    holds the moved series with one moved occurrence (no resurrected old one), and the next sync
    writes nothing."""
    alice_phone.calendar.save_event(ical=series_text(first))
    pull(importing)
    alice_phone.calendar.save_event(ical=series_text(first, shift=timedelta(hours=1)))
    pull(importing)
    master = Appointment.objects.get(schedule__isnull=False)

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(master, subject="Weekly visit, call first")
    pull(importing)

    begin, end = timezone.now(), timezone.now() + timedelta(weeks=20)
    on_server = server_occurrences(alice_phone, begin, end)
    assert on_server == helpdesk_occurrences(begin, end)
    assert len(on_server) == 7  # eight, one cancelled
    assert [s for _start, _end, s in on_server].count("Weekly visit (moved)") == 1
    moved = first + 3 * WEEK + timedelta(hours=3)  # the fourth, moved two hours, the series one
    assert (moved.replace(tzinfo=ZONE).astimezone(UTC), "Weekly visit (moved)") in [(s, t) for s, _e, t in on_server]
    recurrence_ids = [
        c.decoded("recurrence-id")
        for c in icalendar.Calendar.from_ical(alice_phone.by_uid(UID).data).walk("VEVENT")
        if c.get("recurrence-id")
    ]
    assert recurrence_ids == [(first + 3 * WEEK + timedelta(hours=1)).replace(tzinfo=ZONE)]
    written = sorted(str(e.url) + (e.data or "") for e in alice_phone.entries())

    again = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing.pk), pull=True)

    assert (again.pushed, again.pulled) == (0, 0)
    assert sorted(str(e.url) + (e.data or "") for e in alice_phone.entries()) == written


def test_a_series_another_client_moves_keeping_its_until_keeps_that_until(importing, alice_phone, first):  # noqa: F811
    """A client that moves the series an hour but leaves UNTIL where it was (the last start as it
    was): the server then gives seven occurrences, and so does the helpdesk. The helpdesk moves
    UNTIL with a series only when it moves the series itself; a pulled move keeps the remote's."""
    last = (first + 7 * WEEK).replace(tzinfo=ZONE).astimezone(UTC)
    plain = {"rule": f"FREQ=WEEKLY;UNTIL={last:%Y%m%dT%H%M%SZ}", "exdate": False, "override": False}
    alice_phone.calendar.save_event(ical=series_text(first, **plain))
    assert pull(importing).failed == 0
    alice_phone.calendar.save_event(ical=series_text(first, shift=timedelta(hours=1), **plain))

    report = pull(importing)

    assert (report.pulled, report.failed) == (1, 0)
    begin, end = timezone.now(), timezone.now() + timedelta(weeks=20)
    want = server_occurrences(alice_phone, begin, end)
    assert len(want) == 7  # recurring-ical-events: the eighth, an hour later, is after UNTIL
    assert helpdesk_occurrences(begin, end) == want
