"""Trial 2 fault N2 in the subscription feed (and the e-mail attachment's writer): a time in the
repeated hour of the autumn change is written in UTC form (RFC 5545 3.3.5 form #2), because a
local `20271031T023000` with TZID=Europe/Amsterdam means the FIRST 02:30. recurring-ical-events
reads the served feed and must find the instants the helpdesk holds; a series' DTSTART stays on
its zone (its rule repeats on that wall clock)."""

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import recurring_ical_events
from dateutil import tz as dateutil_tz
from dateutil.rrule import rrulestr

from calendars.ical import EventStyle, single_event
from calendars.models import Appointment, CalendarSettings
from tests.repeated_hour import AMS, CASES

pytestmark = pytest.mark.django_db


def _shown(text: bytes) -> list[tuple[datetime, datetime]]:
    calendar = icalendar.Calendar.from_ical(text)
    shown = recurring_ical_events.of(calendar).between(datetime(2027, 10, 30), datetime(2027, 11, 2))
    return [(e.decoded("dtstart").astimezone(UTC), e.decoded("dtend").astimezone(UTC)) for e in shown]


@pytest.mark.parametrize("case", CASES)
def test_the_feed_gives_a_time_in_the_repeated_hour_its_own_instant(case, alice, client, feed_url):
    start, end, start_utc, end_utc = CASES[case]
    assert start.astimezone(UTC) == start_utc and end.astimezone(UTC) == end_utc
    settings = CalendarSettings.load()
    settings.feed_days_future = 3650
    settings.save()
    appointment = Appointment.objects.create(subject="Night job", start=start, end=end)
    appointment.agents.add(alice)

    response = client.get(feed_url(alice))

    assert response.status_code == 200
    assert _shown(response.content) == [(start_utc, end_utc)]


@pytest.mark.parametrize("case", CASES)
def test_the_email_attachment_gives_a_time_in_the_repeated_hour_its_own_instant(case):
    start, end, start_utc, end_utc = CASES[case]
    appointment = Appointment(pk=1, subject="Night job", start=start, end=end)
    calendar = icalendar.Calendar()
    calendar.add_component(single_event(appointment, EventStyle(zone=AMS)))

    assert _shown(calendar.to_ical()) == [(start_utc, end_utc)]


# The daily x3 series of review 7 F4 as dateutil repeats it on the wall clock from 02:30 of 31 Oct
# 2027 (RFC 5545 3.3.5: a zoned 02:30 on that night is the first, +02:00): every start in UTC.
NIGHT_SERIES_STARTS = [
    moment.replace(tzinfo=AMS).astimezone(UTC)
    for moment in rrulestr("FREQ=DAILY;COUNT=3", dtstart=datetime(2027, 10, 31, 2, 30))
]


def _patch_run(alice) -> Appointment:
    """Daily x3 from the SECOND 02:30 of 31 Oct 2027 (fold=1, 01:30 UTC), one hour, in the feed's reach."""
    from calendars import services as calendar_services

    settings = CalendarSettings.load()
    settings.feed_days_future = 3650
    settings.save()
    start = datetime(2027, 10, 31, 2, 30, tzinfo=AMS, fold=1)
    return calendar_services.create_recurring_appointment(
        rule="RRULE:FREQ=DAILY;COUNT=3",
        agents=[alice],
        start=start,
        end=start.astimezone(UTC) + timedelta(hours=1),
        subject="Patch run",
    )


def _starts_shown(content: bytes) -> list[datetime]:
    calendar = icalendar.Calendar.from_ical(content)
    shown = recurring_ical_events.of(calendar).between(datetime(2027, 10, 30), datetime(2027, 11, 5))
    return sorted(e.decoded("dtstart").astimezone(UTC) for e in shown)


def test_a_series_entered_at_the_second_repeated_hour_shows_its_first_day_in_the_feed_as_in_the_helpdesk(
    alice, client, feed_url
):
    """Review 7 F4: the series' DTSTART is written on its zone (read as the first 02:30), and an
    EXDATE for "DTSTART is not a rule start" in the same form cancelled the rule's real first
    instance. Nothing cancelled: the feed shows the three days dateutil gives, and the helpdesk
    holds the same three starts."""
    master = _patch_run(alice)

    response = client.get(feed_url(alice))

    assert _starts_shown(response.content) == NIGHT_SERIES_STARTS
    held = master.occurrences.filter(is_cancelled=False).order_by("start").values_list("start", flat=True)
    assert [start.astimezone(UTC) for start in held] == NIGHT_SERIES_STARTS


def test_a_cancelled_first_day_of_a_series_starting_in_the_repeated_hour_stays_cancelled_in_the_feed(
    alice, client, feed_url
):
    """Review 2: a series' DTSTART stays on its zone (its rule repeats on that wall clock), so the
    EXDATE that cancels its first day must be written in the same form, or a reader cannot match
    it to the instance it computes and shows the cancelled day. Daily x3 from the second 02:30 of
    31 Oct 2027: the feed shows the three days before, and only 1 and 2 November after the first
    is cancelled (review 7: without the first check this test passed with nothing cancelled)."""
    from calendars import services as calendar_services

    master = _patch_run(alice)
    assert _starts_shown(client.get(feed_url(alice)).content) == NIGHT_SERIES_STARTS
    first = master.occurrences.order_by("original_start").first()
    calendar_services.cancel_occurrence(first)

    response = client.get(feed_url(alice))

    assert _starts_shown(response.content) == NIGHT_SERIES_STARTS[1:]


def test_a_cancelled_occurrence_at_the_first_repeated_hour_of_an_older_series_stays_cancelled_in_the_feed(
    alice, client, feed_url
):
    """A daily 02:30 series begun the day before the autumn night: its 31 Oct occurrence is the first
    02:30 (00:30 UTC), a time PEP 495 makes unequal to the same instant in UTC, so the feed did not
    find the cancelled occurrence among the rule's starts and wrote no EXDATE for it. dateutil's
    days from 30 Oct 02:30, the 31st left out."""
    from calendars import services as calendar_services

    settings = CalendarSettings.load()
    settings.feed_days_future = 3650
    settings.save()
    start = datetime(2027, 10, 30, 2, 30, tzinfo=AMS)
    master = calendar_services.create_recurring_appointment(
        rule="RRULE:FREQ=DAILY;COUNT=3", agents=[alice], start=start, end=start + timedelta(hours=1), subject="Backup"
    )
    night = master.occurrences.get(original_start=datetime(2027, 10, 31, 0, 30, tzinfo=UTC))
    calendar_services.cancel_occurrence(night)

    response = client.get(feed_url(alice))

    expected = [
        moment.replace(tzinfo=AMS).astimezone(UTC)
        for moment in rrulestr("FREQ=DAILY;COUNT=3", dtstart=datetime(2027, 10, 30, 2, 30))
    ]
    calendar = icalendar.Calendar.from_ical(response.content)
    shown = recurring_ical_events.of(calendar).between(datetime(2027, 10, 29), datetime(2027, 11, 5))
    assert sorted(e.decoded("dtstart").astimezone(UTC) for e in shown) == [expected[0], expected[2]]


# Task times, fault 1: an extra start (RDATE) given as its instant, the SECOND 02:30 of 31 Oct 2027
# (01:30 UTC: dateutil's own zone, fold=1), on a daily 09:00 series; dateutil gives the rule's days.
_DATEUTIL_AMS = dateutil_tz.gettz("Europe/Amsterdam")
SECOND_NIGHT = dateutil_tz.enfold(datetime(2027, 10, 31, 2, 30, tzinfo=_DATEUTIL_AMS), fold=1).astimezone(UTC)
MORNINGS = [
    moment.replace(tzinfo=_DATEUTIL_AMS).astimezone(UTC)
    for moment in rrulestr("FREQ=DAILY;COUNT=3", dtstart=datetime(2027, 10, 30, 9, 0))
]


@pytest.mark.parametrize("cancel", [False, True], ids=["kept", "cancelled"])
def test_an_extra_start_at_the_second_repeated_hour_is_that_instant_in_the_helpdesk_and_the_feed(
    cancel, alice, client, feed_url
):
    from calendars import services as calendar_services

    settings = CalendarSettings.load()
    settings.feed_days_future = 3650
    settings.save()
    start = datetime(2027, 10, 30, 9, 0, tzinfo=AMS)
    master = calendar_services.create_recurring_appointment(
        rule=f"RRULE:FREQ=DAILY;COUNT=3\nRDATE:{SECOND_NIGHT.strftime('%Y%m%dT%H%M%SZ')}",
        agents=[alice],
        start=start,
        end=start + timedelta(hours=1),
        subject="Patch run",
        time_zone="Europe/Amsterdam",
    )
    expected = sorted([*MORNINGS, SECOND_NIGHT])
    if cancel:
        night = master.occurrences.get(original_start=SECOND_NIGHT)
        calendar_services.cancel_occurrence(night)
        expected.remove(SECOND_NIGHT)

    held = master.occurrences.filter(is_cancelled=False).values_list("start", flat=True)
    assert sorted(moment.astimezone(UTC) for moment in held) == expected
    calendar = icalendar.Calendar.from_ical(client.get(feed_url(alice)).content)
    shown = recurring_ical_events.of(calendar).between(datetime(2027, 10, 29), datetime(2027, 11, 5))
    assert sorted(e.decoded("dtstart").astimezone(UTC) for e in shown) == expected
