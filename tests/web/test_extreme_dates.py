"""Dates near datetime's ends are refused with a field message (4xx) and nothing written;
pages, lists and feeds keep answering afterwards (helpdesk/limits.py)."""

import pytest
from django.urls import reverse

from agents.services import renew_feed_token
from calendars.models import Appointment, CalendarSettings
from tickets.models import Request

FAR = [
    ("0001-01-01T00:00:00Z", "0001-01-01T01:00:00Z", "start"),
    ("2026-03-02T09:00:00+01:00", "9999-12-31T23:00:00Z", "end"),
    ("9999-12-31T23:30:00-05:00", "9999-12-31T23:45:00-05:00", "start"),
]


@pytest.fixture
def emails_on(calendar_settings):
    CalendarSettings.objects.filter(pk=calendar_settings.pk).update(email_technicians=True)


def _everything_answers(client, alice) -> None:
    assert client.get("/api/appointments/").status_code == 200
    client.force_login(client.handler._force_user)
    assert client.get("/calendar/").status_code == 200
    assert client.get(reverse("feeds:agent", args=[renew_feed_token(alice)])).status_code == 200


@pytest.mark.parametrize(("start", "end", "field"), FAR)
def test_appointment_at_the_ends_of_time_is_refused_with_nothing_written(
    start, end, field, emails_on, alice, coordinator, api_client, django_capture_on_commit_callbacks
):
    client = api_client(coordinator)
    data = {"subject": "Far", "start": start, "end": end, "agents": [alice.pk]}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/appointments/", data, format="json")

    assert response.status_code == 400
    assert "between 1900 and 2199" in response.json()[field][0]
    assert not Appointment.objects.exists()
    _everything_answers(client, alice)


def test_list_from_year_one_answers_400(alice, api_client):
    response = api_client(alice.user).get("/api/appointments/?start=0001-01-01")
    assert response.status_code == 400
    assert "start" in response.json()


def test_new_appointment_form_opened_at_year_9999_answers_200(alice, page_client):
    response = page_client(alice.user).get("/calendar/appointments/new/?start=9999-12-31T23:30")
    assert response.status_code == 200


def test_request_planned_at_year_9999_is_refused_on_the_page(alice, page_client):
    data = {"summary": "Far", "status": "new", "assigned_agents": [alice.pk], "planned_start": "9999-12-31T23:30"}
    response = page_client(alice.user).post("/requests/new/", data)
    assert response.status_code == 200
    assert "between 1900 and 2199" in response.content.decode()
    assert not Request.objects.exists()


def test_request_planned_at_year_9999_is_refused_over_the_api(alice, api_client):
    data = {"summary": "Far", "assigned_agents": [alice.pk], "planned_start": "9999-12-31T23:30:00Z"}
    response = api_client(alice.user).post("/api/requests/", data, format="json")
    assert response.status_code == 400
    assert "planned_start" in response.json()
    assert not Request.objects.exists()


def test_appointment_service_refuses_year_one(alice):
    from datetime import UTC, datetime

    from django.core.exceptions import ValidationError

    from calendars import services

    with pytest.raises(ValidationError) as error:
        services.create_appointment(
            subject="Far", start=datetime(1, 1, 1, 9, tzinfo=UTC), end=datetime(1, 1, 1, 10, tzinfo=UTC), agents=[alice]
        )
    assert "start" in error.value.message_dict
    assert not Appointment.objects.exists()
