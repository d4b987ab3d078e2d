"""Trial 2 fault N2 on CalDAV: a time in the repeated hour of the autumn change (the second 02:30
of 31 Oct 2027 in Europe/Amsterdam) is pushed in UTC form, since RFC 5545 3.3.5 reads
`DTSTART;TZID=Europe/Amsterdam:20271031T023000` as the FIRST 02:30. Read back from Radicale by
recurring-ical-events, an independent reader, the entry has the instants the helpdesk holds."""

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import recurring_ical_events

from integrations.models import SyncLink
from tests.repeated_hour import AMS, CASES, kept_after_an_edit_elsewhere, night_job

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("case", CASES)
def test_a_time_in_the_repeated_hour_reaches_caldav_as_its_own_instant(
    case, alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    start, end, start_utc, end_utc = CASES[case]
    # The offsets are the ones the API takes (+02:00 before the change, +01:00 after it).
    assert start.astimezone(UTC) == start_utc and end.astimezone(UTC) == end_utc
    appointment = night_job(case, alice_calendar.agent, django_capture_on_commit_callbacks)

    marker = SyncLink.objects.get(appointment=appointment).marker
    text = alice_phone.by_uid(marker).data
    shown = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2027, 10, 30), datetime(2027, 11, 2)
    )
    assert [(e.decoded("dtstart").astimezone(UTC), e.decoded("dtend").astimezone(UTC)) for e in shown] == [
        (start_utc, end_utc)
    ]
    assert end_utc - start_utc in (timedelta(hours=1), timedelta(hours=2))


@pytest.mark.parametrize("case", CASES)
def test_a_phone_edit_of_another_field_keeps_the_repeated_hour_entry_length(
    case, alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    # Trial 2 N2's second half: adding a location on the phone must not bring back an hour-early time.
    appointment = night_job(case, alice_calendar.agent, django_capture_on_commit_callbacks)
    marker = SyncLink.objects.get(appointment=appointment).marker
    kept_after_an_edit_elsewhere(
        case, appointment, alice_calendar, lambda: alice_phone.edit(marker, location="Server room")
    )


def test_a_series_whose_first_occurrence_ends_in_the_repeated_hour_keeps_an_exact_dtend(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    # Task autumn, fault 1. 01:30 (+02:00) for 1 h 30 min ends at the second 02:00 (+01:00). DTEND
    # goes out in UTC, DTSTART on the zone the rule repeats on: RFC 5545 3.8.5.3 gives every
    # instance the exact DTEND - DTSTART. DURATION:PT1H30M was measured as no better: icalendar's
    # `end` adds it on DTSTART's wall clock (03:00+01:00, 2 h 30 min), and recurring-ical-events
    # 3.8 reads the first instance 2 h 30 min long from either form (it adds on the wall clock).
    from calendars import services as calendar_services

    start = datetime(2027, 10, 31, 1, 30, tzinfo=AMS)
    length = timedelta(hours=1, minutes=30)
    end = (start.astimezone(UTC) + length).astimezone(AMS)
    with django_capture_on_commit_callbacks(execute=True):
        master = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;COUNT=3",
            agents=[alice_calendar.agent],
            start=start,
            end=end,
            subject="Night backup",
            time_zone="Europe/Amsterdam",
        )

    text = alice_phone.by_uid(SyncLink.objects.get(appointment=master).marker).data
    [vevent] = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert "DURATION" not in vevent
    assert vevent.start.astimezone(UTC) == start.astimezone(UTC)
    assert vevent.end.astimezone(UTC) == end.astimezone(UTC)
    assert vevent.duration == length  # icalendar: DTEND - DTSTART, two zones: exact
    # Every later instance, read by recurring-ical-events, lasts the same exact time.
    shown = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2027, 11, 1), datetime(2027, 11, 3)
    )
    assert [e.end.astimezone(UTC) - e.start.astimezone(UTC) for e in shown] == [length, length]


def test_a_series_entered_at_the_second_repeated_hour_reaches_caldav_with_the_helpdesk_occurrences(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """Review 7 F4: daily x3 entered from the SECOND 02:30 of 31 Oct 2027 (01:30 UTC). Its DTSTART
    is written on its zone, which RFC 5545 3.3.5 reads as the first 02:30, and an EXDATE for
    "DTSTART is not a rule start" in the same form removed that first day on the phone. The
    phone (recurring-ical-events on the stored object) and the helpdesk both show the three starts
    dateutil repeats on the wall clock from 02:30; reading the object back moves nothing."""
    from calendars import services as calendar_services
    from calendars.models import Appointment
    from integrations.sync import engine

    start = datetime(2027, 10, 31, 2, 30, tzinfo=AMS, fold=1)
    with django_capture_on_commit_callbacks(execute=True):
        (series,) = calendar_services.create_appointments(
            agents=[alice_calendar.agent],
            one_each=False,
            rule="FREQ=DAILY;COUNT=3",
            time_zone="Europe/Amsterdam",
            subject="Night job",
            start=start,
            end=start + timedelta(hours=1),
        )
    _night_series_starts_agree(series, alice_phone)

    before = Appointment.objects.get(pk=series.pk)
    for _ in range(2):
        alice_calendar.refresh_from_db()
        with django_capture_on_commit_callbacks(execute=True):
            engine.sync_agent_calendar(alice_calendar, pull=True)
    after = Appointment.objects.get(pk=series.pk)
    assert (after.start, after.end) == (before.start, before.end)
    assert exact_hour(after.start, after.end)


def exact_hour(start: datetime, end: datetime) -> bool:
    return end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=1)


def test_a_series_stored_from_the_second_repeated_hour_before_the_fix_reaches_caldav_with_its_first_day(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """Review 7 F4 for a series stored before starts were normalised: master at the second 02:30
    (01:30 UTC), occurrences from the first (the rule's fold=0). DTSTART is written on the zone and
    read as the first 02:30, which the rule gives, so no EXDATE may cancel it: the phone shows the
    three starts dateutil gives, as the helpdesk does."""
    from calendars import services as calendar_services
    from calendars.models import Appointment
    from integrations.sync import engine

    start = datetime(2027, 10, 31, 2, 30, tzinfo=AMS)
    with django_capture_on_commit_callbacks(execute=False):
        series = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;COUNT=3",
            agents=[alice_calendar.agent],
            start=start,
            end=start + timedelta(hours=1),
            subject="Night job",
            time_zone="Europe/Amsterdam",
        )
    second = datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    Appointment.objects.filter(pk=series.pk).update(start=second, end=second + timedelta(hours=1))
    engine.sync_agent_calendar(alice_calendar, pull=True)

    _night_series_starts_agree(series, alice_phone)


def _night_series_starts_agree(series, alice_phone) -> None:
    """The daily x3 series from 02:30 of 31 Oct 2027: the helpdesk's occurrences and the phone's
    (recurring-ical-events on the stored object) start when dateutil repeats that wall clock (the
    first 02:30 on the autumn night, RFC 5545 3.3.5)."""
    from dateutil.rrule import rrulestr

    from calendars.models import Appointment

    expected = [
        moment.replace(tzinfo=AMS).astimezone(UTC)
        for moment in rrulestr("FREQ=DAILY;COUNT=3", dtstart=datetime(2027, 10, 31, 2, 30))
    ]
    held = Appointment.objects.visible().filter(master=series.pk).order_by("start").values_list("start", flat=True)
    assert [moment.astimezone(UTC) for moment in held] == expected
    text = alice_phone.by_uid(SyncLink.objects.get(appointment=series).marker).data
    shown = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2027, 10, 30), datetime(2027, 11, 4)
    )
    assert [e.decoded("dtstart").astimezone(UTC) for e in shown] == expected
