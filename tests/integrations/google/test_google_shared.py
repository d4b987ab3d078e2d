"""A shared appointment on Google Calendar: each technician's calendar gets its own event,
organised by that calendar with no attendees (Calendar API "Events" resource: organizer.self, no
attendees[] whose responseStatus would put the event in another calendar as an invitation), and
what the Google Calendar app does to one copy is that technician's answer only. The scenarios are
tests/integrations/shared_scenarios.py; series are expanded by recurring-ical-events from Google's
own RFC 5545 lines (`google_view`)."""

from datetime import UTC, datetime

import pytest

from integrations import services
from tests.integrations import one_technician_scenarios, shared_scenarios
from tests.peers.google import instance_id

from .conftest import ALICE, BOB
from .test_google_sync import google_view, when

pytestmark = pytest.mark.django_db

CAROL = "carol@example.org"


class GoogleCalendarApp:
    """The Google Calendar app on the technicians' calendars of the local Google server."""

    def __init__(self, google) -> None:
        self.google = google

    def entries(self, address: str) -> list[dict]:
        return [
            {
                "id": event["id"],
                "subject": event.get("summary", ""),
                "body": event.get("description", ""),
                "start": datetime.fromisoformat(event["start"]["dateTime"]).astimezone(UTC),
                "attendees": [a["email"] for a in event.get("attendees", [])],
                "organiser_is_self": event["organizer"].get("self", False),
            }
            for event in self.google.events(address)
            if not event.get("recurringEventId")
        ]

    def view(self, address: str, start: datetime, end: datetime) -> list[tuple]:
        return google_view(self.google, start, end, address)

    def delete(self, address: str, entry_id: str) -> None:
        self.google.phone_delete(address, entry_id)

    def move(self, address: str, entry_id: str, start: datetime, end: datetime, subject: str) -> None:
        self.google.phone_patch(address, entry_id, start=when(start), end=when(end), summary=subject)

    def cancel_occurrence(self, address: str, master_id: str, original_start: datetime) -> None:
        self.google.phone_delete(address, instance_id(master_id, original_start))

    def move_occurrence(self, address, master_id, original_start, start, end) -> None:
        self.google.phone_patch(address, instance_id(master_id, original_start), start=when(start), end=when(end))

    def add(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        return self.google.phone_insert(address, summary=subject, start=when(start), end=when(end))["id"]

    def invitation(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        # Carol's Google calendar, outside this server, invited the technician: their copy.
        event = self.google.phone_insert(address, summary=subject, start=when(start), end=when(end))
        attendees = [
            {"email": CAROL, "organizer": True, "responseStatus": "accepted"},
            {"email": address, "self": True, "responseStatus": "needsAction"},
        ]
        self.google.phone_patch(address, event["id"], attendees=attendees)
        self.google.organise(address, event["id"], CAROL)
        return event["id"]

    def decline(self, address: str, entry_id: str) -> None:
        attendees = self.google.event(address, entry_id)["attendees"]
        for attendee in attendees:
            if attendee.get("self"):
                attendee["responseStatus"] = "declined"
        self.google.phone_patch(address, entry_id, attendees=attendees)

    def lose_answer(self, address: str, operation: str, entry_id: str | None = None, *, times: int = 1) -> None:
        # The helpdesk's writes go out in batch requests (Calendar API batch guide): the batch's
        # answer is lost, every call in it made.
        self.google.fail_next("drop_after", path="/batch/calendar/v3", times=times)

    def answer_again(self) -> None:
        self.google.calm()


@pytest.fixture
def bob_google(bob, google_connection):
    return services.connect_agent(bob, connection=google_connection)


@shared_scenarios.each_scenario
def test_shared_appointment_on_google(scenario, google, alice_google, bob_google, django_capture_on_commit_callbacks):
    assert (alice_google.agent.mailbox, bob_google.agent.mailbox) == (ALICE, BOB)
    scenario(GoogleCalendarApp(google), alice_google, bob_google, django_capture_on_commit_callbacks)


@shared_scenarios.each_conditional_delete
def test_conditional_delete_on_google(scenario, google, alice_google, bob_google, django_capture_on_commit_callbacks):
    scenario(GoogleCalendarApp(google), alice_google, bob_google, django_capture_on_commit_callbacks)


@one_technician_scenarios.each_scenario
def test_one_technician_on_google(scenario, google, alice_google, django_capture_on_commit_callbacks):
    scenario(GoogleCalendarApp(google), alice_google, django_capture_on_commit_callbacks)
    assert set(google.send_updates) <= {"none"}  # whatever it wrote, Google told nobody


@one_technician_scenarios.each_lost_answer
def test_lost_answer_on_google(scenario, google, alice_google, django_capture_on_commit_callbacks):
    scenario(GoogleCalendarApp(google), alice_google, django_capture_on_commit_callbacks)
