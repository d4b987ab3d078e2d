"""Trial L-ZEROLEN on Google Calendar: an event whose end is its start (the API takes it: start and
end are both dateTime, end not before start) is kept as 1 minute in the helpdesk; a helpdesk edit
of its summary patches the summary only, and the event's start and end stay as the phone wrote them."""

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from tests.integrations.test_caldav_sync import pull

from .conftest import ALICE

pytestmark = pytest.mark.django_db

AT = {"dateTime": "2027-01-05T10:00:00+01:00", "timeZone": "Europe/Amsterdam"}


def test_a_summary_edit_keeps_a_google_event_of_no_length(importing_google, google, django_capture_on_commit_callbacks):
    google.phone_insert(ALICE, summary="Zero minutes", start=dict(AT), end=dict(AT))
    pull(importing_google)
    appointment = Appointment.objects.get(subject="Zero minutes")

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="Zero minutes, renamed")

    (event,) = google.events(ALICE)
    assert event["summary"] == "Zero minutes, renamed"
    assert (event["start"]["dateTime"], event["end"]["dateTime"]) == (AT["dateTime"], AT["dateTime"])
