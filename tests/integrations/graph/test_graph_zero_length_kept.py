"""Trial L-ZEROLEN on Microsoft Graph: an Outlook entry that ends when it starts (Outlook and Graph
take end = start: a 0-minute meeting) is kept as 1 minute in the helpdesk; a helpdesk edit of its
subject PATCHes the subject only, and the entry's end stays its start (the event's times as the
Graph peer stores them)."""

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from tests.integrations.test_caldav_sync import pull

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def test_a_subject_edit_keeps_an_outlook_entry_of_no_length(
    importing_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    graph.outlook_add(ALICE, tomorrow_9, tomorrow_9, "Zero minutes")
    pull(importing_graph)
    appointment = Appointment.objects.get(subject="Zero minutes")
    (before,) = graph.events(ALICE)

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="Zero minutes, renamed")

    (after,) = graph.events(ALICE)
    assert after["subject"] == "Zero minutes, renamed"
    assert (after["_start"], after["_end"]) == (before["_start"], before["_end"])
    assert after["_end"] == after["_start"] == tomorrow_9  # as Outlook made it: no length
