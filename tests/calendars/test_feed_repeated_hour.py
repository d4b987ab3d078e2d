"""Trial 2 fault N2 in the subscription feed (and the e-mail attachment's writer): a time in the
repeated hour of the autumn change is written in UTC form (RFC 5545 3.3.5 form #2), because a
local `20271031T023000` with TZID=Europe/Amsterdam means the FIRST 02:30. recurring-ical-events
reads the served feed and must find the instants the helpdesk holds; a series' DTSTART stays on
its zone (its rule repeats on that wall clock)."""

from datetime import UTC, datetime

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
