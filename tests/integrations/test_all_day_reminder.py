"""Trial L-ALLDAY-ALARM: an all-day entry the helpdesk makes got the timed default (15 minutes before
its DATE start, i.e. 23:45 the evening before). Its default is now its own setting, 1080 minutes as
Outlook's all-day default (06:00 the day before); a reminder the entry or the external side set is
kept. The moment the alarm rings is read from the entry on Radicale with icalendar (RFC 5545 3.8.6.3:
a TRIGGER relative to a DATE start counts from that day's midnight, on the reader's clock)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendars import services as calendar_services
from calendars.models import CalendarSettings
from integrations.models import SyncLink
from integrations.sync import engine
from tests.integrations.importing import start_importing

pytestmark = pytest.mark.django_db


def _rings(component, zone: ZoneInfo) -> list[datetime]:
    start = datetime.combine(component.decoded("dtstart"), datetime.min.time(), tzinfo=zone)
    return [start + alarm.decoded("trigger") for alarm in component.walk("VALARM")]


def _all_day(alice_calendar, capture, **fields):
    with capture(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Site survey day",
            start=date(2027, 1, 12),
            end=date(2027, 1, 13),
            all_day=True,
            agents=[alice_calendar.agent],
            **fields,
        )
    return appointment, SyncLink.objects.get(appointment=appointment).marker


def test_an_all_day_entry_made_in_the_helpdesk_rings_at_six_the_day_before(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    zone = alice_calendar.agent.zone
    _, marker = _all_day(alice_calendar, django_capture_on_commit_callbacks)

    component = alice_phone.by_uid(marker).icalendar_component
    assert _rings(component, zone) == [datetime(2027, 1, 11, 6, 0, tzinfo=zone)]


def test_the_all_day_default_is_a_setting_and_empty_means_none(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    settings = CalendarSettings.load()
    settings.all_day_reminder_minutes = None
    settings.save()
    _, marker = _all_day(alice_calendar, django_capture_on_commit_callbacks)

    assert list(alice_phone.by_uid(marker).icalendar_component.walk("VALARM")) == []


def test_an_all_day_entry_s_own_reminder_is_kept(alice_calendar, alice_phone, django_capture_on_commit_callbacks):
    zone = alice_calendar.agent.zone
    _, marker = _all_day(alice_calendar, django_capture_on_commit_callbacks, reminder_minutes=60)

    component = alice_phone.by_uid(marker).icalendar_component
    assert _rings(component, zone) == [datetime(2027, 1, 11, 23, 0, tzinfo=zone)]


def test_an_imported_all_day_entry_keeps_the_alarm_its_calendar_set(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    alice_calendar = start_importing(alice_calendar)
    alice_phone.calendar.save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:allday-own-alarm\r\n"
        "DTSTAMP:20261201T100000Z\r\nDTSTART;VALUE=DATE:20270114\r\nDTEND;VALUE=DATE:20270115\r\n"
        "SUMMARY:Inventory\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    engine.sync_agent_calendar(alice_calendar, pull=True)
    appointment = SyncLink.objects.get(marker="allday-own-alarm").appointment

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="Inventory (stores)")

    component = alice_phone.by_uid("allday-own-alarm").icalendar_component
    assert str(component["summary"]) == "Inventory (stores)"
    assert [alarm.decoded("trigger") for alarm in component.walk("VALARM")] == [timedelta(minutes=-15)]
