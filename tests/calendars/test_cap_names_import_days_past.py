"""Review finding 7: the cap of 5,000 starts a series may have counts the import window's past days
(CalendarSettings.import_days_past) as well as the year ahead, so an admin changing that setting
changes which series are let through. The setting's help on the admin page and the refusals (on
create and on import) say so. The rule's counts are dateutil's."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from django.core.exceptions import ValidationError

from calendars import services
from calendars.models import Appointment, CalendarSettings
from integrations.providers.base import UnreadableEntry
from integrations.providers.caldav import parse_event
from integrations.sync import inbound

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
HOURS = ",".join(str(hour) for hour in range(6, 19))  # thirteen starts a day
SAID = "import days past, which the count includes"


def _began_60_days_ago() -> datetime:
    return (datetime.now(AMS) - timedelta(days=60)).replace(hour=6, minute=0, second=0, microsecond=0)


def _over_the_cap_only_with_the_past_days(start: datetime) -> None:
    local, now = start.replace(tzinfo=None), datetime.now(AMS).replace(tzinfo=None)
    rule = rrulestr(f"FREQ=DAILY;BYHOUR={HOURS}", dtstart=local)
    assert len(rule.between(now, now + timedelta(days=365), inc=True)) <= 5000
    assert len(rule.between(now - timedelta(days=30), now + timedelta(days=365), inc=True)) > 5000


def test_the_admin_says_the_past_days_count_against_the_cap(admin_client):
    CalendarSettings.load()

    page = admin_client.get("/admin/calendars/calendarsettings/1/change/").content.decode()

    assert 'name="import_days_past"' in page
    assert "at most 5,000 occurrences in a year plus these days" in page


def test_the_refusal_on_create_names_the_setting():
    start = _began_60_days_ago()
    _over_the_cap_only_with_the_past_days(start)

    with pytest.raises(ValidationError, match=f"30 days before it.*{SAID}"):
        services.check_rule(f"RRULE:FREQ=DAILY;BYHOUR={HOURS}", start=start, zone=AMS)


def test_the_refusal_on_import_names_the_setting(make_agent):
    start = _began_60_days_ago()
    _over_the_cap_only_with_the_past_days(start)
    local = start.replace(tzinfo=None)
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Rounds//EN\r\nBEGIN:VEVENT\r\nUID:rounds\r\n"
        f"DTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Amsterdam:{local:%Y%m%dT%H%M%S}\r\n"
        f"DTEND;TZID=Europe/Amsterdam:{local + timedelta(minutes=30):%Y%m%dT%H%M%S}\r\n"
        f"RRULE:FREQ=DAILY;BYHOUR={HOURS}\r\nSUMMARY:Rounds\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    with pytest.raises(UnreadableEntry, match=f"Those 30 days are the calendar settings' {SAID}"):
        inbound.import_remote_event(make_agent("alice"), parse_event(text, remote_id="/x/rounds.ics"))
    assert not Appointment.objects.exists()
