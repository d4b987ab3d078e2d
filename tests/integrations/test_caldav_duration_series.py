"""A series a phone writes with DURATION (RFC 5545 3.8.2.5) whose first occurrence ends in the
repeated hour of the autumn change (task autumn, fault 1): 25 Oct 2026 01:30 in Europe/Amsterdam
(+02:00), PT1H30M, ends at the second 02:00 (+01:00). RFC 5545 3.3.6: hours and minutes are exact,
so each occurrence lasts 1 h 30 min of real time. Expected: zoneinfo's instants. Stored on Radicale."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from calendars.models import Appointment
from integrations.sync import engine
from tests.integrations.importing import start_importing

AMS = ZoneInfo("Europe/Amsterdam")
pytestmark = pytest.mark.django_db
START = datetime(2026, 10, 25, 1, 30, tzinfo=AMS)  # the autumn night of 2026, before the change
LENGTH = timedelta(hours=1, minutes=30)


@pytest.fixture
def importing(alice_calendar):
    return start_importing(alice_calendar)


def test_a_duration_series_ending_in_the_repeated_hour_is_read_in_exact_time(importing, alice_phone):
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    alice_phone.calendar.save_event(
        ical=(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:night-backup\r\nDTSTAMP:{stamp}\r\nDTSTART;TZID=Europe/Amsterdam:20261025T013000\r\n"
            "DURATION:PT1H30M\r\nRRULE:FREQ=DAILY;COUNT=60\r\nSUMMARY:Night backup\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    )
    engine.sync_agent_calendar(importing, pull=True)

    master = Appointment.objects.get(subject="Night backup", master__isnull=True)
    end = (START.astimezone(UTC) + LENGTH).astimezone(AMS)
    assert (end.replace(tzinfo=None), end.utcoffset()) == (datetime(2026, 10, 25, 2, 0), timedelta(hours=1))
    assert (master.start, master.end) == (START.astimezone(UTC), end.astimezone(UTC))
    assert {o.end - o.start for o in master.occurrences.all()} == {LENGTH}
