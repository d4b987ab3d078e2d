"""A body sent as form data reads as the same body sent as JSON (trial F7: a form-encoded POST
made an appointment free, `busy` false, as DRF reads a boolean missing from form data as an
unticked checkbox, while the same body in JSON took the model's default, busy). A free entry is
left out of overlap and availability checks (SPEC S6.1), so a script posting form data made
double bookings without a word. The expected values are the JSON answers of the same bodies."""

from urllib.parse import urlencode

from calendars import services as calendar_services
from calendars.models import Appointment
from tests.web.conftest import at

LIST = "/api/appointments/"
BOOLEANS = ("busy", "private", "all_day")


def test_a_form_encoded_appointment_is_made_as_the_same_json_body_makes_it(api_client, coordinator, alice):
    client = api_client(coordinator)
    body = {"subject": "Visit", "start": "2027-01-05T10:00:00+01:00", "end": "2027-01-05T11:00:00+01:00"}
    as_json = client.post(LIST, {**body, "agents": [alice.pk]}, format="json")
    form = urlencode({**body, "agents": alice.pk, "confirm_overlap": "true"})
    as_form = client.post(LIST, form, content_type="application/x-www-form-urlencoded")
    as_multipart = client.post(LIST, {**body, "agents": alice.pk, "confirm_overlap": "true"}, format="multipart")

    assert (as_json.status_code, as_form.status_code, as_multipart.status_code) == (201, 201, 201)
    made = [{name: answer.json()[name] for name in BOOLEANS} for answer in (as_json, as_form, as_multipart)]
    assert made[1] == made[2] == made[0]
    assert made[0]["busy"] is True
    assert list(Appointment.objects.filter(busy=False)) == []


def test_a_form_encoded_put_leaves_the_booleans_it_does_not_name_as_json_does(api_client, alice):
    """PUT without `busy` or `private` leaves them as they are in JSON (DRF skips a field left out);
    form data made the busy entry free and the private one public."""
    client = api_client(alice.user)
    busy = calendar_services.create_appointment(subject="Busy", start=at(3, 9), end=at(3, 10), agents=[alice])
    private = calendar_services.create_appointment(
        subject="Private", start=at(4, 9), end=at(4, 10), agents=[alice], private=True
    )

    for appointment in (busy, private):
        body = {"subject": "Renamed", "start": appointment.start.isoformat(), "end": appointment.end.isoformat()}
        response = client.put(f"{LIST}{appointment.pk}/", {**body, "agents": alice.pk}, format="multipart")
        assert response.status_code == 200, response.content

    busy.refresh_from_db()
    private.refresh_from_db()
    assert (busy.subject, busy.busy, private.private) == ("Renamed", True, True)
