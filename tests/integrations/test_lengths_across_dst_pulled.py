"""A request's planned entry moved and resized on the phone across the autumn change (task autumn,
fault 3): the request's history took the new length as the two zoned times subtracted on the wall
clock (Python does that for one tzinfo), 1 h 30 min for 01:30 to 03:00 in Europe/Amsterdam on 31 Oct
2027, whose real length is 2 h 30 min (+02:00, then +01:00), so it said nothing of the new length.
Expected: zoneinfo's instants; the phone writes both times with TZID=Europe/Amsterdam (RFC 5545
3.3.5 form #3), stored on Radicale."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendars.models import Appointment
from integrations.models import SyncLink
from integrations.sync import engine
from tickets import services as ticket_services

AMS = ZoneInfo("Europe/Amsterdam")
pytestmark = pytest.mark.django_db


def test_a_planned_entry_moved_across_the_autumn_change_names_its_real_length(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    alice = alice_calendar.agent
    planned = datetime(2027, 10, 31, 1, 0, tzinfo=AMS)  # +02:00, 90 minutes
    start = datetime(2027, 10, 31, 1, 30, tzinfo=AMS)  # +02:00
    with django_capture_on_commit_callbacks(execute=True):
        request = ticket_services.create_request(
            summary="Night migration", assigned_agents=[alice], planned_start=planned, estimate=timedelta(minutes=90)
        )
    job = Appointment.objects.get(request=request)
    engine.sync_agent_calendar(alice_calendar, pull=True)
    end = datetime(2027, 10, 31, 3, 0, tzinfo=AMS)  # +01:00, after the change
    alice_phone.edit(SyncLink.objects.get(appointment=job).marker, dtstart=start, dtend=end)

    alice_calendar.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        engine.sync_agent_calendar(alice_calendar, pull=True)

    length = end.astimezone(UTC) - start.astimezone(UTC)
    assert length == timedelta(hours=2, minutes=30)
    job.refresh_from_db()
    assert job.end - job.start == length
    local = start.astimezone(alice.zone)  # alice's clock: Europe/Amsterdam
    expected = f"Moved on {alice.name}'s calendar to {local:%a %-d %b %Y %H:%M} {local.tzname()} (length 2 h 30 min)"
    assert [line.text for line in request.history.all()] == [expected]
