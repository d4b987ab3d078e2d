"""The page forms name every technician's overlaps and working hours left, as the API's 409 does
(trial 3): a form making one entry each checked the first technician only, and asked no more."""

from datetime import datetime
from html import unescape
from zoneinfo import ZoneInfo

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
# Tuesday 1 Dec 2026 10:00-11:00 on the site's clock (inside working hours); Sunday 6 Dec outside them.
WORKDAY = {"start": "2026-12-01T10:00", "end": "2026-12-01T11:00"}
SUNDAY = {"start": "2026-12-06T10:00", "end": "2026-12-06T11:00"}


@pytest.fixture
def both_busy(alice, bob):
    start, end = datetime(2026, 12, 1, 10, 0, tzinfo=AMS), datetime(2026, 12, 1, 11, 0, tzinfo=AMS)
    calendar_services.create_appointment(subject="Alice's own visit", start=start, end=end, agents=[alice])
    calendar_services.create_appointment(subject="Bob's own visit", start=start, end=end, agents=[bob])


def _new_appointment(client, alice, bob, times: dict) -> str:
    answer = client.post(
        "/calendar/appointments/new/",
        {"subject": "Check", **times, "agents": [alice.pk, bob.pk], "entries": "each"},
    )
    assert answer.status_code == 200
    return unescape(answer.content.decode())


def _request_tab(client, alice, bob, times: dict) -> str:
    ticket = ticket_services.create_request(summary="Printer", assigned_agents=[alice, bob])
    form = {"subject": "Check", **times}
    answer = client.post(
        f"/requests/{ticket.pk}/appointments/",
        {
            **{f"appointment-{key}": value for key, value in form.items()},
            "appointment-agents": [alice.pk, bob.pk],
            "appointment-entries": "each",
        },
    )
    assert answer.status_code == 200
    return unescape(answer.content.decode())


@pytest.mark.parametrize("post", [_new_appointment, _request_tab], ids=["new-form", "request-tab"])
def test_the_form_names_every_technicians_overlap_and_saves_nothing(
    post, both_busy, page_client, coordinator, alice, bob
):
    before = Appointment.objects.count()
    page = post(page_client(coordinator), alice, bob, WORKDAY)
    assert "Alice's own visit" in page and "Bob's own visit" in page
    assert Appointment.objects.count() == before


@pytest.mark.parametrize("post", [_new_appointment, _request_tab], ids=["new-form", "request-tab"])
def test_the_form_names_every_technicians_working_hours_left(post, page_client, coordinator, alice, bob):
    page = post(page_client(coordinator), alice, bob, SUNDAY)
    assert f"outside {alice.name}'s working hours" in page and f"outside {bob.name}'s working hours" in page
    assert not Appointment.objects.filter(subject="Check").exists()
