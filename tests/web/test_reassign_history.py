"""Trial fault 3: a planned request given to another technician (a drag on the group calendar,
which PATCHes the appointment's technicians and times, or the reassign endpoint) leaves a line in
the request's history saying from whom to whom, by whom, and where it moved."""

import re
from datetime import UTC, datetime

import pytest
from django.test import Client

from calendars.models import Appointment
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

# Now, on Bob's clock (Europe/London), in the one format of helpdesk.moments plus the zone's name
# ("Tue 1 Dec 2026 09:12 GMT"; the line wrote "1 Dec 2026 09:12 GMT" and "Wed 2 Dec 14:00" before).
WHEN = r"on \w{3} \d{1,2} \w{3} \d{4} \d\d:\d\d (GMT|BST)"
AMS_WHEN = r"on \w{3} \d{1,2} \w{3} \d{4} \d\d:\d\d (CET|CEST)"


@pytest.fixture
def planned(alice):
    ticket = ticket_services.create_request(summary="Router", assigned_agents=[alice])
    ticket_services.update_request(ticket, planned_start=datetime(2026, 12, 2, 9, tzinfo=UTC))
    return Appointment.objects.get(request=ticket, source=Appointment.Source.PLANNED)


def test_drag_to_another_technician_and_time_is_in_the_requests_history(api_client, coordinator, alice, bob, planned):
    response = api_client(coordinator).patch(
        f"/api/appointments/{planned.pk}/",
        {"agents": [bob.pk], "start": "2026-12-02T14:00:00Z", "end": "2026-12-02T15:00:00Z", "confirm_overlap": True},
        format="json",
    )
    assert response.status_code == 200, response.content

    # Each reader reads the line on their own clock (trial F-HIST-TZ): the coordinator on the site's
    # (Amsterdam), Bob on his (London); the stored text is on Bob's, the new technician's.
    history = api_client(coordinator).get(f"/api/requests/{planned.request_id}/").json()["history"]
    assert len(history) == 1
    assert re.fullmatch(
        f"Reassigned from Alice to Bob by coordinator {AMS_WHEN}, moved to Wed 2 Dec 2026 15:00 CET", history[0]["text"]
    )
    bob_client = Client()
    bob_client.force_login(bob.user)  # a session, as the pages' and the API's users have (activates his zone)
    (line,) = bob_client.get(f"/api/requests/{planned.request_id}/").json()["history"]
    assert re.fullmatch(
        f"Reassigned from Alice to Bob by coordinator {WHEN}, moved to Wed 2 Dec 2026 14:00 GMT", line["text"]
    )
    stored = planned.request.history.get().text
    assert re.fullmatch(
        f"Reassigned from Alice to Bob by coordinator {WHEN}, moved to Wed 2 Dec 2026 14:00 GMT", stored
    )


def test_reassign_endpoint_is_in_the_requests_history(api_client, coordinator, alice, bob, planned):
    url = f"/api/appointments/{planned.pk}/reassign/"
    data = {"from_agent": alice.pk, "to_agent": bob.pk, "confirm_overlap": True}
    assert api_client(coordinator).post(url, data, format="json").status_code == 200

    (line,) = planned.request.history.all()
    assert re.fullmatch(f"Reassigned from Alice to Bob by coordinator {WHEN}", line.text)


def test_a_change_of_time_alone_adds_no_history_line(api_client, coordinator, planned):
    url = f"/api/appointments/{planned.pk}/"
    data = {"start": "2026-12-02T14:00:00Z", "end": "2026-12-02T15:00:00Z", "confirm_overlap": True}
    assert api_client(coordinator).patch(url, data, format="json").status_code == 200
    assert not planned.request.history.exists()
