"""Trial fault 8 on Microsoft Graph: the technician changes the reminder of a helpdesk entry in
Outlook (reminderMinutesBeforeStart 15 -> 45). A later helpdesk change of another field must not
put the helpdesk's 15 back (the PATCH held the reminder because it differed from the entry as
read); a change of the helpdesk's own reminder is still written. Graph event resource type:
isReminderOn, reminderMinutesBeforeStart."""

import pytest

from calendars import services as calendar_services
from integrations.models import SyncLink
from tests.integrations.reminder_and_race import (
    a_helpdesk_entry_s_alarm_removed_there_stays_removed,
    a_reminder_changed_there_is_taken,
    a_reminder_removed_in_the_helpdesk_goes_out,
    an_alarm_removed_there_is_taken,
)
from tests.integrations.series import HOUR
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


def test_a_reminder_changed_on_the_phone_is_taken_by_the_helpdesk(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    def outlook_edit(event_id: str, minutes: int) -> None:
        graph.outlook_edit(ALICE, event_id, reminderMinutesBeforeStart=minutes)

    a_reminder_changed_there_is_taken(alice_graph, tomorrow_9, django_capture_on_commit_callbacks, outlook_edit)

    assert _reminder(graph) == ("Boiler check", True, 30)


def test_an_alarm_removed_on_the_phone_leaves_the_helpdesk_entry_without_reminder(alice_graph, graph, tomorrow_9):
    def make_there() -> None:
        graph.outlook_add(
            ALICE, tomorrow_9, tomorrow_9 + HOUR, "Dentist", isReminderOn=True, reminderMinutesBeforeStart=30
        )

    an_alarm_removed_there_is_taken(
        alice_graph, make_there, lambda event_id: graph.outlook_edit(ALICE, event_id, isReminderOn=False)
    )

    assert _reminder(graph)[:2] == ("Dentist", False)


def test_an_alarm_removed_in_outlook_from_a_helpdesk_entry_stays_removed_while_a_default_is_set(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    def outlook_edit(event_id: str) -> None:
        assert _reminder(graph) == ("Boiler check", True, 15)
        graph.outlook_edit(ALICE, event_id, isReminderOn=False)

    a_helpdesk_entry_s_alarm_removed_there_stays_removed(
        alice_graph, tomorrow_9, django_capture_on_commit_callbacks, outlook_edit
    )

    assert _reminder(graph)[:2] == ("Boiler check (gas)", False)


def test_a_reminder_removed_in_the_helpdesk_turns_the_outlook_reminder_off(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    a_reminder_removed_in_the_helpdesk_goes_out(alice_graph, tomorrow_9, django_capture_on_commit_callbacks)

    assert _reminder(graph)[:2] == ("Boiler check (gas)", False)
