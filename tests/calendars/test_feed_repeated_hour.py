"""Trial 2 fault N2 in the subscription feed (and the e-mail attachment's writer): a time in the
repeated hour of the autumn change is written in UTC form (RFC 5545 3.3.5 form #2), because a
local `20271031T023000` with TZID=Europe/Amsterdam means the FIRST 02:30. recurring-ical-events
reads the served feed and must find the instants the helpdesk holds; a series' DTSTART stays on
its zone (its rule repeats on that wall clock)."""

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import recurring_ical_events

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


def test_a_cancelled_first_day_of_a_series_starting_in_the_repeated_hour_stays_cancelled_in_the_feed(
    alice, client, feed_url
):
    """Review 2: a series' DTSTART stays on its zone (its rule repeats on that wall clock), so the
    EXDATE that cancels its first day must be written in the same form, or a reader cannot match
    it to the instance it computes and shows the cancelled day. Daily x3 from the second 02:30 of
    31 Oct 2027, first day cancelled: recurring-ical-events shows 1 and 2 November only."""
    from calendars import services as calendar_services

    settings = CalendarSettings.load()
    settings.feed_days_future = 3650
    settings.save()
    start = datetime(2027, 10, 31, 2, 30, tzinfo=AMS, fold=1)
    master = calendar_services.create_recurring_appointment(
        rule="RRULE:FREQ=DAILY;COUNT=3",
        agents=[alice],
        start=start,
        end=start.astimezone(UTC) + timedelta(hours=1),
        subject="Patch run",
    )
    first = master.occurrences.order_by("original_start").first()
    calendar_services.cancel_occurrence(first)

    response = client.get(feed_url(alice))

    calendar = icalendar.Calendar.from_ical(response.content)
    shown = recurring_ical_events.of(calendar).between(datetime(2027, 10, 30), datetime(2027, 11, 5))
    assert sorted(e.decoded("dtstart").astimezone(AMS).date().isoformat() for e in shown) == [
        "2027-11-01",
        "2027-11-02",
    ]
