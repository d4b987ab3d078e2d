"""Trial fault 2 on Google Calendar (the peer, tests/peers/google.py): an occurrence of alice's series
given to bob, who is not on the series, reaches bob's calendar as a one-off event of his own and is
left out of alice's series (EXDATE, RFC 5545 3.8.5.1, as Google keeps it in `recurrence`); given
back, bob's event goes and alice's series has the occurrence again. Read from the peer's own state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calendars import services as calendar_services
from tests.integrations.series import series_to_give_away

from .conftest import ALICE

BOB = "bob@example.com"

pytestmark = pytest.mark.django_db


def _start(event: dict) -> datetime:
    return datetime.fromisoformat(event["start"]["dateTime"]).astimezone(UTC)


def _exdates(event: dict) -> list[str]:
    return [line for line in event.get("recurrence", []) if line.startswith("EXDATE")]


def test_an_occurrence_given_to_bob_is_a_one_off_on_his_google_calendar_and_goes_back(
    alice_google, bob, google_connection, google, tomorrow_9, django_capture_on_commit_callbacks
):
    alice = alice_google.agent
    given = series_to_give_away(alice, bob, google_connection, tomorrow_9, django_capture_on_commit_callbacks)
    second = given.occurrences[1]
    [master] = google.events(ALICE)
    assert _exdates(master) == []

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.reassign_appointment(second, from_agent=alice, to_agent=bob)
    [own] = google.events(BOB)
    assert "recurrence" not in own and "recurringEventId" not in own
    assert _start(own) == second.start.astimezone(UTC)
    [master] = google.events(ALICE)
    assert len(_exdates(master)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.reassign_appointment(second, from_agent=bob, to_agent=alice)
    assert google.events(BOB) == []
    # One series again (the occurrence, edited on its own, may come as an exception of it: no duplicate).
    [master] = [event for event in google.events(ALICE) if "recurringEventId" not in event]
    assert _exdates(master) == []
    exceptions = [event for event in google.events(ALICE) if "recurringEventId" in event]
    assert [(e["recurringEventId"], _start(e)) for e in exceptions] in (
        [],
        [(master["id"], second.start.astimezone(UTC))],
    )
