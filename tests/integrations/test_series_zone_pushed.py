"""A series repeats on its own clock, not its technician's (trial fault 2): the entry pushed to
each technician's calendar names the series' zone (RFC 5545 3.3.5 DTSTART;TZID=), also for a
technician who works in another zone."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from integrations.models import SyncLink
from tests.integrations.series import series_on_another_clock

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")


def test_caldav_gets_the_series_zone_not_the_technicians(bob_calendar, radicale, django_capture_on_commit_callbacks):
    from tests.integrations.conftest import USERS, OtherClient

    bob = bob_calendar.agent  # works in Europe/London
    start = datetime(2027, 3, 8, 15, 0, tzinfo=AMS)
    master = series_on_another_clock(bob, django_capture_on_commit_callbacks, zone="Europe/Amsterdam", start=start)

    phone = OtherClient(radicale.url, "bob", USERS["bob"], bob_calendar.calendar_id)
    entry = phone.by_uid(SyncLink.objects.get(appointment=master).marker).icalendar_component
    assert entry["dtstart"].params["TZID"] == "Europe/Amsterdam"
    assert entry.decoded("dtstart") == start
