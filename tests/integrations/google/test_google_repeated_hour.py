"""A single entry in the repeated hour of the autumn change on Google (task autumn, fault 2).

An EventDateTime's dateTime is RFC 3339 with its offset (calendar v3 "Events" resource), so the
second 02:30 (+01:00) is said without doubt even with timeZone "Europe/Amsterdam". Expected instants:
zoneinfo's PEP 495 fold (tests/repeated_hour.py); the stored event read by the local Google peer.
"""

from datetime import UTC, datetime

import pytest

from calendars import services as calendar_services
from integrations.sync import engine
from tests.repeated_hour import CASES

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def _stored(google) -> tuple[datetime, datetime]:
    [event] = google.events(ALICE)
    return tuple(datetime.fromisoformat(event[side]["dateTime"].replace("Z", "+00:00")) for side in ("start", "end"))


@pytest.mark.parametrize("case", CASES)
def test_a_repeated_hour_entry_reaches_google_and_comes_back_as_its_own_instants(
    case, alice_google, google, django_capture_on_commit_callbacks
):
    start, end, start_utc, end_utc = CASES[case]
    with django_capture_on_commit_callbacks(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Night job", start=start, end=end, agents=[alice_google.agent]
        )
    assert _stored(google) == (start_utc, end_utc)

    engine.sync_agent_calendar(alice_google, pull=True)
    [event] = google.events(ALICE)
    google.phone_patch(ALICE, event["id"], location="Server room")
    alice_google.refresh_from_db()
    engine.sync_agent_calendar(alice_google, pull=True)

    appointment.refresh_from_db()
    assert appointment.location == "Server room"
    assert (appointment.start.astimezone(UTC), appointment.end.astimezone(UTC)) == (start_utc, end_utc)
    assert _stored(google) == (start_utc, end_utc)
