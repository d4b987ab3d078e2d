"""Pages read and show times on the signed-in technician's own wall clock."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.urls import reverse

from calendars.models import Appointment

LONDON = ZoneInfo("Europe/London")


def test_time_typed_by_a_london_technician_is_london_time(page_client, bob):
    client = page_client(bob.user)

    response = client.post(
        reverse("calendars:appointment-create"),
        {"subject": "Rack check", "start": "2026-07-01T10:00", "end": "2026-07-01T11:00", "agents": [bob.pk]},
    )

    assert response.status_code == 302
    assert Appointment.objects.get(subject="Rack check").start == datetime(2026, 7, 1, 10, tzinfo=LONDON)


def test_appointment_page_shows_the_technicians_wall_clock(page_client, bob):
    from calendars import services

    start = datetime(2026, 7, 1, 10, tzinfo=LONDON)
    appointment = services.create_appointment(
        subject="Rack check", start=start, end=start.replace(hour=11), agents=[bob]
    )

    page = page_client(bob.user).get(reverse("calendars:appointment-detail", args=[appointment.pk])).content.decode()

    assert "10:00" in page
