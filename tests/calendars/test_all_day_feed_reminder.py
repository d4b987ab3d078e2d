"""Trial L-ALLDAY-ALARM in the subscription feed (calendars/ical.py): an all-day entry without a
reminder of its own gets the all-day default (1080 minutes: 06:00 the day before, as Outlook), not
the timed one before its midnight (23:45); one it has is kept. Read with icalendar (RFC 5545
3.8.6.3: a TRIGGER relative to a DATE start counts from that day's midnight on the reader's clock)."""

from datetime import date, datetime, timedelta

import icalendar
import pytest

from calendars import services as calendar_services
from calendars.models import CalendarSettings

pytestmark = pytest.mark.django_db


def _rings(component, zone) -> list[datetime]:
    start = datetime.combine(component.decoded("dtstart"), datetime.min.time(), tzinfo=zone)
    return [start + alarm.decoded("trigger") for alarm in component.walk("VALARM")]


def test_the_feed_gives_an_all_day_entry_its_own_default_and_keeps_a_set_one(alice, client, feed_url):
    zone = alice.zone
    for subject, day, minutes in (("Day off", date(2027, 1, 20), None), ("Stocktake", date(2027, 1, 21), 60)):
        calendar_services.create_appointment(
            subject=subject,
            start=day,
            end=day + timedelta(days=1),
            all_day=True,
            agents=[alice],
            reminder_minutes=minutes,
        )
    settings = CalendarSettings.load()
    settings.feed_days_future = 3650
    settings.save()

    response = client.get(feed_url(alice))

    assert response.status_code == 200
    events = {str(e["summary"]): e for e in icalendar.Calendar.from_ical(response.content).walk("VEVENT")}
    assert _rings(events["Day off"], zone) == [datetime(2027, 1, 19, 6, 0, tzinfo=zone)]
    assert _rings(events["Stocktake"], zone) == [datetime(2027, 1, 20, 23, 0, tzinfo=zone)]


def test_the_feed_gives_an_entry_whose_reminder_was_removed_no_alarm_not_the_default(alice, client, feed_url):
    zone = alice.zone
    for subject, day, none in (("Day off", date(2027, 1, 20), True), ("Stocktake", date(2027, 1, 21), False)):
        calendar_services.create_appointment(
            subject=subject, start=day, end=day + timedelta(days=1), all_day=True, agents=[alice], no_reminder=none
        )
    settings = CalendarSettings.load()
    settings.feed_days_future = 3650
    settings.save()

    response = client.get(feed_url(alice))

    events = {str(e["summary"]): e for e in icalendar.Calendar.from_ical(response.content).walk("VEVENT")}
    assert _rings(events["Day off"], zone) == []
    assert _rings(events["Stocktake"], zone) == [datetime(2027, 1, 20, 6, 0, tzinfo=zone)]
