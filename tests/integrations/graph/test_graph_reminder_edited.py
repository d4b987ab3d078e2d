"""Trial fault 8 on Microsoft Graph: the technician changes the reminder of a helpdesk entry in
Outlook (reminderMinutesBeforeStart 15 -> 45). A later helpdesk change of another field must not
put the helpdesk's 15 back (the PATCH held the reminder because it differed from the entry as
read); a change of the helpdesk's own reminder is still written. Graph event resource type:
isReminderOn, reminderMinutesBeforeStart."""

import pytest

from calendars import services as calendar_services
from integrations.models import SyncLink
from tests.integrations.test_caldav_sync import make, pull

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def _reminder(graph) -> tuple:
    (event,) = graph.events(ALICE)
    return event["subject"], event["isReminderOn"], event["reminderMinutesBeforeStart"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"subject": "Boiler check (gas)"}, ("Boiler check (gas)", True, 45)),
        ({"subject": "Boiler check (gas)", "reminder_minutes": 30}, ("Boiler check (gas)", True, 30)),
    ],
    ids=["another field: Outlook's reminder kept", "the helpdesk's reminder: written"],
)
def test_a_reminder_changed_in_outlook_is_kept_unless_the_helpdesk_changes_its_own(
    changes, expected, alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks, reminder_minutes=15)
    assert _reminder(graph)[1:] == (True, 15)
    graph.outlook_edit(ALICE, SyncLink.objects.get().remote_id, reminderMinutesBeforeStart=45)
    pull(alice_graph)
    appointment.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, **changes)

    assert _reminder(graph) == expected


def test_a_reminder_only_change_in_the_helpdesk_reaches_outlook(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks, reminder_minutes=15)

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, reminder_minutes=30)

    assert _reminder(graph) == ("Server room visit", True, 30)
    assert not SyncLink.objects.get().pending
