"""Trial F-HIST-TZ: a request's page mixed two clocks without saying so. Bob (Europe/London) moved
his planned entry on the phone to 13:00 London; the coordinator (Amsterdam, the site's zone) read
"Planned Thu 3 Dec 2026 14:00" (unlabelled) above "Moved on Bob's calendar to Thu 3 Dec 2026 13:00
GMT". README: pages show times in the signed-in user's zone, so the history line is written on
the reader's clock, named, as the planned time is.

Expected texts are written here with strftime on each reader's zone (zoneinfo), not with our code;
the phone writes the new times in UTC (13:00Z is 13:00 GMT in December) to Radicale."""

from datetime import UTC, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from calendars.models import Appointment
from integrations.models import SyncLink
from integrations.sync import engine
from tests.integrations.conftest import USERS, OtherClient
from tickets import services as ticket_services
from tickets.models import HistoryLine

pytestmark = pytest.mark.django_db
AMS, LONDON = ZoneInfo("Europe/Amsterdam"), ZoneInfo("Europe/London")


def on(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"


def test_a_move_on_the_phone_reads_on_each_readers_clock(
    radicale, bob_calendar, coordinator, django_capture_on_commit_callbacks
):
    bob = bob_calendar.agent
    bob_phone = OtherClient(radicale.url, "bob", USERS["bob"], bob_calendar.calendar_id)
    with django_capture_on_commit_callbacks(execute=True):
        request = ticket_services.create_request(
            summary="Switch swap",
            assigned_agents=[bob],
            planned_start=datetime(2026, 12, 3, 9, tzinfo=UTC),
            estimate=timedelta(hours=1),
        )
    job = Appointment.objects.get(request=request)
    engine.sync_agent_calendar(bob_calendar, pull=True)
    moved = datetime(2026, 12, 3, 13, tzinfo=UTC)
    bob_phone.edit(SyncLink.objects.get(appointment=job).marker, dtstart=moved, dtend=moved + timedelta(hours=1))
    bob_calendar.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        engine.sync_agent_calendar(bob_calendar, pull=True)

    assert on(moved, AMS) == "Thu 3 Dec 2026 14:00 CET"
    coordinator_client, bob_client = Client(), Client()
    coordinator_client.force_login(coordinator)
    bob_client.force_login(bob.user)
    said = f"Moved on {bob.name}'s calendar to "
    for client, zone in ((coordinator_client, AMS), (bob_client, LONDON)):
        history = client.get(f"/api/requests/{request.pk}/").json()["history"]
        assert [line["text"] for line in history] == [said + on(moved, zone)]
        page = client.get(f"/requests/{request.pk}/").content.decode()
        assert f"<li>{escape(said)}{on(moved, zone)}</li>" in page
        # The planned time above it is on the same clock, and says which.
        assert f"<dt>Planned</dt><dd>{on(moved, zone)}</dd>" in page
    # The stored text (admin, old readers) stays on the technician's clock.
    assert HistoryLine.objects.get(request=request).text == said + on(moved, LONDON)
