from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from calendars import services as calendar_services
from calendars.models import Appointment
from tickets import services as ticket_services

AMS = ZoneInfo("Europe/Amsterdam")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in a fixed week (Monday 2 March 2026 is day 2), Amsterdam time."""
    return datetime(2026, 3, day, hour, minute, tzinfo=AMS)


@pytest.fixture
def reader(db) -> User:
    """Signed in, but neither technician nor coordinator."""
    return User.objects.create_user("reader", password="pw")


@pytest.fixture
def page_client():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def api_client():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def carol(make_agent):
    """A London technician (trial faults 2, 7 and 9 pair her with New York's Frank)."""
    return make_agent("carol", time_zone="Europe/London")


@pytest.fixture
def frank(make_agent):
    return make_agent("frank", time_zone="America/New_York")


@pytest.fixture
def ticket(alice):
    return ticket_services.create_request(summary="Printer jams", customer="Acme", site="Hall", assigned_agents=[alice])


@pytest.fixture
def alices_appointment(alice):
    return calendar_services.create_appointment(
        subject="Visit Acme", note="Bring toner", location="Hall", start=at(2, 9), end=at(2, 10), agents=[alice]
    )


@pytest.fixture
def bobs_appointment(bob):
    return calendar_services.create_appointment(subject="Bob's job", start=at(2, 11), end=at(2, 12), agents=[bob])


@pytest.fixture
def private_external(alice):
    return calendar_services.create_appointment(
        subject="Doctor: results",
        note="Secret note",
        location="Hospital",
        other_attendees=["doc@example.com"],
        start=at(3, 14),
        end=at(3, 15),
        agents=[alice],
        source=Appointment.Source.EXTERNAL,
        private=True,
    )


# The API schema and one of each kind of object, for sweeps over every read.
@pytest.fixture
def schema_document(api_client, coordinator) -> dict:
    return api_client(coordinator).get("/api/schema/", {"format": "json"}).json()


@pytest.fixture
def some_of_everything(alice, alices_appointment):
    ticket = ticket_services.create_request(summary="Printer", assigned_agents=[alice], planned_start=at(2, 13))
    action = ticket_services.log_action(ticket, agent=alice, done_at=at(2, 14), note="Done")
    return {"agents": alice.pk, "teams": None, "requests": ticket.pk, "appointments": alices_appointment.pk}, action
