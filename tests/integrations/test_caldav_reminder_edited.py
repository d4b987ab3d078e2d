"""Trial fault 8: the technician changes the helpdesk's reminder on her phone, in place (TRIGGER
-PT15M -> -PT45M on our VALARM, as Apple Calendar and Thunderbird edit an existing alarm). SPEC
S3.5: the helpdesk sets the reminder on the external entry; a change of another field in the
helpdesk must not put the old reminder back over her choice (it did, silently, on the next push),
while a change of the helpdesk's own reminder is still written. Read back from Radicale with
icalendar."""

from datetime import timedelta

import pytest

from calendars import services as calendar_services
from integrations.models import SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.integrations.reminder_and_race import a_reminder_changed_there_is_taken, an_alarm_removed_there_is_taken

pytestmark = pytest.mark.django_db


def _triggers(alice_phone, marker: str) -> list[timedelta]:
    component = alice_phone.by_uid(marker).icalendar_component
    return [alarm.decoded("trigger") for alarm in component.walk("VALARM")]


def _job_with_a_reminder_changed_on_the_phone(alice_calendar, alice_phone, tomorrow_9, capture):
    with capture(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Boiler check", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice_calendar.agent]
        )
    marker = SyncLink.objects.get(appointment=appointment).marker
    assert _triggers(alice_phone, marker) == [timedelta(minutes=-15)]  # the helpdesk's default reminder
    event = alice_phone.by_uid(marker)
    (alarm,) = event.icalendar_component.walk("VALARM")
    alarm.pop("trigger")
    alarm.add("trigger", timedelta(minutes=-45))
    event.save()
    engine.sync_agent_calendar(alice_calendar, pull=True)
    appointment.refresh_from_db()  # the pull took the phone's reminder
    return appointment, marker


def test_a_reminder_changed_on_the_phone_survives_a_later_helpdesk_change_of_another_field(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment, marker = _job_with_a_reminder_changed_on_the_phone(
        alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
    )

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="Boiler check (gas)")

    component = alice_phone.by_uid(marker).icalendar_component
    assert str(component["summary"]) == "Boiler check (gas)"
    assert _triggers(alice_phone, marker) == [timedelta(minutes=-45)]


def test_a_reminder_changed_in_the_helpdesk_with_another_field_is_still_written_over_the_phone_one(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment, marker = _job_with_a_reminder_changed_on_the_phone(
        alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
    )

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="Boiler check (gas)", reminder_minutes=30)

    assert _triggers(alice_phone, marker) == [timedelta(minutes=-30)]


def test_a_reminder_only_change_in_the_helpdesk_reaches_the_phone(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Boiler check", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice_calendar.agent]
        )
    marker = SyncLink.objects.get(appointment=appointment).marker

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, reminder_minutes=30)

    assert _triggers(alice_phone, marker) == [timedelta(minutes=-30)]
    assert not SyncLink.objects.get(appointment=appointment).pending
    line = SyncLogEntry.objects.filter(operation="update").latest("id")
    assert line.message == "Changed in the helpdesk: reminder."


# --- task remind: the phone's reminder reaches the helpdesk ------------------------------------------

_ALARM_30 = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT30M\r\nEND:VALARM\r\n"


def _set_trigger(alice_phone, uid: str, minutes: int) -> None:
    """The phone edits the entry's only VALARM in place (Apple Calendar, Thunderbird)."""
    event = alice_phone.by_uid(uid)
    (alarm,) = event.icalendar_component.walk("VALARM")
    alarm.pop("trigger")
    alarm.add("trigger", timedelta(minutes=-minutes))
    event.save()


def _remove_alarms(alice_phone, uid: str) -> None:
    event = alice_phone.by_uid(uid)
    component = event.icalendar_component
    component.subcomponents = [c for c in component.subcomponents if c.name != "VALARM"]
    event.save()


def test_a_reminder_changed_on_the_phone_is_taken_by_the_helpdesk(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    def phone_edit(_remote_id: str, minutes: int) -> None:
        _set_trigger(alice_phone, SyncLink.objects.get().marker, minutes)

    appointment = a_reminder_changed_there_is_taken(
        alice_calendar, tomorrow_9, django_capture_on_commit_callbacks, phone_edit
    )

    assert _triggers(alice_phone, SyncLink.objects.get(appointment=appointment).marker) == [timedelta(minutes=-30)]


def test_an_alarm_removed_on_the_phone_leaves_the_helpdesk_entry_without_reminder(
    alice_calendar, alice_phone, tomorrow_9
):
    an_alarm_removed_there_is_taken(
        alice_calendar,
        lambda: alice_phone.add("alarm@phone", tomorrow_9, tomorrow_9 + timedelta(hours=1), "Dentist", extra=_ALARM_30),
        lambda _remote_id: _remove_alarms(alice_phone, "alarm@phone"),
    )

    assert _triggers(alice_phone, "alarm@phone") == []
