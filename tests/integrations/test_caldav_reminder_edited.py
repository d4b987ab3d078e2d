"""Trial fault 8: the technician changes the helpdesk's reminder on her phone, in place (TRIGGER
-PT15M -> -PT45M on our VALARM, as Apple Calendar and Thunderbird edit an existing alarm). SPEC
S3.5: the helpdesk sets the reminder on the external entry; a change of another field in the
helpdesk must not put the old reminder back over her choice (it did, silently, on the next push),
while a change of the helpdesk's own reminder is still written. Read back from Radicale with
icalendar."""

from datetime import timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import CalendarSettings, ConflictRule
from integrations.models import SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.integrations.reminder_and_race import (
    a_helpdesk_entry_s_alarm_removed_there_stays_removed,
    a_reminder_changed_there_is_taken,
    a_reminder_removed_in_the_helpdesk_goes_out,
    an_alarm_removed_there_is_taken,
)
from tests.integrations.test_caldav_sync import make, pull

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


@pytest.mark.parametrize(
    ("rule", "helpdesk", "phone", "line"),
    [
        (
            ConflictRule.EXTERNAL_WINS,
            30,
            -30,
            "Both sides changed the reminder; the external calendar's version won (the helpdesk had 20 minutes).",
        ),
        (
            ConflictRule.HELPDESK_WINS,
            20,
            -20,
            "Both sides changed the reminder; the helpdesk's version won (Alice's calendar had 30 minutes).",
        ),
    ],
    ids=["the phone wins", "the helpdesk wins"],
)
def test_a_reminder_changed_on_both_sides_follows_the_winner_as_a_conflict(
    rule, helpdesk, phone, line, alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    settings = CalendarSettings.load()
    settings.conflict_rule = rule
    settings.save()
    appointment = make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks, reminder_minutes=15)
    marker = SyncLink.objects.get(appointment=appointment).marker
    _set_trigger(alice_phone, marker, 30)
    calendar_services.update_appointment(appointment, reminder_minutes=20)  # its push waits for the run

    report = pull(alice_calendar)

    appointment.refresh_from_db()
    assert (appointment.reminder_minutes, report.conflicts) == (helpdesk, 1)
    assert _triggers(alice_phone, marker) == [timedelta(minutes=phone)]
    entry = SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT)
    assert entry.message == line
    assert (pull(alice_calendar).pulled, pull(alice_calendar).pushed) == (0, 0)


def test_a_reminder_changed_on_the_phone_with_the_subject_is_taken_with_it(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks, reminder_minutes=15)
    marker = SyncLink.objects.get(appointment=appointment).marker
    _set_trigger(alice_phone, marker, 120)
    alice_phone.edit(marker, summary="Server room visit (moved)")

    report = pull(alice_calendar)

    appointment.refresh_from_db()
    assert (appointment.subject, appointment.reminder_minutes, report.pulled) == ("Server room visit (moved)", 120, 1)
    line = SyncLogEntry.objects.latest("id")
    assert line.message == f"Changed in {alice_calendar.agent.name}'s calendar: subject; reminder."
    assert _triggers(alice_phone, marker) == [timedelta(minutes=-120)]


def test_a_link_synced_before_reminders_were_kept_takes_no_reminder_from_the_phone(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks, reminder_minutes=15)
    link = SyncLink.objects.get(appointment=appointment)
    # As an older release stored its snapshot: without the reminders.
    link.snapshot = {
        **link.snapshot,
        "local": {k: v for k, v in link.snapshot["local"].items() if k != "reminder_minutes"},
        "remote": {k: v for k, v in link.snapshot["remote"].items() if k != "reminder_minutes"},
    }
    link.save(update_fields=["snapshot"])
    _set_trigger(alice_phone, link.marker, 30)

    report = pull(alice_calendar)

    appointment.refresh_from_db()
    assert (appointment.reminder_minutes, report.pulled, report.pushed) == (15, 0, 0)
    assert _triggers(alice_phone, link.marker) == [timedelta(minutes=-30)]


def test_an_alarm_removed_on_the_phone_from_a_helpdesk_entry_stays_removed_while_a_default_is_set(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """An unset reminder means the global default on a helpdesk-made entry: the removal is stored as
    "no reminder", and a later helpdesk edit writes the entry without an alarm."""

    def remove_alarm(_remote_id: str) -> None:
        marker = SyncLink.objects.get().marker
        assert _triggers(alice_phone, marker) == [timedelta(minutes=-15)]
        _remove_alarms(alice_phone, marker)

    appointment = a_helpdesk_entry_s_alarm_removed_there_stays_removed(
        alice_calendar, tomorrow_9, django_capture_on_commit_callbacks, remove_alarm
    )

    marker = SyncLink.objects.get(appointment=appointment).marker
    assert alice_phone.by_uid(marker).icalendar_component["summary"] == "Boiler check (gas)"
    assert _triggers(alice_phone, marker) == []


def test_a_reminder_removed_in_the_helpdesk_leaves_no_alarm_on_the_phone(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = a_reminder_removed_in_the_helpdesk_goes_out(
        alice_calendar, tomorrow_9, django_capture_on_commit_callbacks
    )

    marker = SyncLink.objects.get(appointment=appointment).marker
    assert alice_phone.by_uid(marker).icalendar_component["summary"] == "Boiler check (gas)"
    assert _triggers(alice_phone, marker) == []


def test_an_alarm_removed_on_the_phone_from_a_helpdesk_entry_is_taken_when_no_default_is_set(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    settings = CalendarSettings.load()
    settings.reminder_minutes = None
    settings.save()
    appointment = make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks, reminder_minutes=20)
    _remove_alarms(alice_phone, SyncLink.objects.get(appointment=appointment).marker)

    report = pull(alice_calendar)

    appointment.refresh_from_db()
    assert (appointment.reminder_minutes, report.pulled, report.pushed) == (None, 1, 0)
