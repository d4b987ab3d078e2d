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
