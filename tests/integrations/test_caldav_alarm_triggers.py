"""Trial fault 4: a phone's alarm set relative to the END (TRIGGER;RELATED=END, RFC 5545 3.8.6.3 and
3.2.14) or at an absolute time (TRIGGER;VALUE=DATE-TIME) was read as relative to the start, or as
"no reminder". The helpdesk keeps "minutes before the start"; an alarm no such number says (after the
start, one instant on a series) is the person's own: neither "no reminder" nor replaced on the next
push. The phone is the caldav library writing to Radicale; the right minutes come from icalendar's
own alarm times (`Event.alarms.times`), never from the helpdesk's reading."""

from datetime import UTC, timedelta

import icalendar
import pytest

from calendars import services as calendar_services
from integrations.models import SyncLink
from integrations.sync import engine
from tests.integrations.series import make_daily_series

pytestmark = pytest.mark.django_db


def _helpdesk_entry(alice_calendar, start, end, capture, **fields):
    with capture(execute=True):
        appointment = calendar_services.create_appointment(
            subject="Boiler check", start=start, end=end, agents=[alice_calendar.agent], reminder_minutes=10, **fields
        )
    return appointment, SyncLink.objects.get(appointment=appointment).marker


def _phone_alarm(alice_phone, uid: str, trigger, **parameters) -> None:
    """The phone replaces every alarm of the entry by one of its own, with `trigger`."""
    event = alice_phone.by_uid(uid)
    component = event.icalendar_component
    component.subcomponents = [c for c in component.subcomponents if c.name != "VALARM"]
    alarm = icalendar.Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", "Phone alarm")
    alarm.add("trigger", trigger, parameters=parameters)
    component.add_component(alarm)
    event.save()


def _fires(alice_phone, uid: str) -> list:
    """When the entry's alarms fire, as icalendar computes them (RFC 5545 3.8.6.3), in UTC."""
    component = alice_phone.by_uid(uid).icalendar_component
    return sorted(t.trigger.astimezone(UTC) for t in component.alarms.times)


def _kept_through_a_pull_and_a_push(alice_calendar, alice_phone, appointment, marker: str, capture) -> None:
    """The phone's alarm (no "minutes before the start" says it) leaves the helpdesk's reminder as it
    was (not "no reminder"), and a later push of another field keeps it, alone."""
    fires = _fires(alice_phone, marker)
    before = appointment.reminder_minutes
    engine.sync_agent_calendar(alice_calendar, pull=True)
    appointment.refresh_from_db()
    assert (appointment.reminder_minutes, appointment.no_reminder) == (before, False)

    subject = f"{appointment.subject} (gas)"
    with capture(execute=True):
        calendar_services.update_appointment(appointment, subject=subject)

    assert str(alice_phone.by_uid(marker).icalendar_component["summary"]) == subject  # pushed
    assert _fires(alice_phone, marker) == fires  # the phone's alarm, and only it, kept


def _minutes_before(alice_phone, uid: str) -> int:
    component = alice_phone.by_uid(uid).icalendar_component
    (fires,) = _fires(alice_phone, uid)
    return int((component.decoded("dtstart") - fires).total_seconds() // 60)


def test_an_alarm_relative_to_the_end_is_read_as_minutes_before_the_start(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment, marker = _helpdesk_entry(
        alice_calendar, tomorrow_9, tomorrow_9 + timedelta(minutes=45), django_capture_on_commit_callbacks
    )
    _phone_alarm(alice_phone, marker, timedelta(minutes=-60), RELATED="END")
    expected = _minutes_before(alice_phone, marker)
    assert expected == 15  # 45 minutes long, 60 before its end

    engine.sync_agent_calendar(alice_calendar, pull=True)

    appointment.refresh_from_db()
    assert (appointment.reminder_minutes, appointment.no_reminder) == (expected, False)


def test_an_alarm_at_an_absolute_time_is_read_as_minutes_before_the_start(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment, marker = _helpdesk_entry(
        alice_calendar, tomorrow_9, tomorrow_9 + timedelta(minutes=45), django_capture_on_commit_callbacks
    )
    _phone_alarm(alice_phone, marker, (tomorrow_9 - timedelta(hours=1)).astimezone(UTC), VALUE="DATE-TIME")
    expected = _minutes_before(alice_phone, marker)
    assert expected == 60

    engine.sync_agent_calendar(alice_calendar, pull=True)

    appointment.refresh_from_db()
    assert (appointment.reminder_minutes, appointment.no_reminder) == (expected, False)


@pytest.mark.parametrize(
    ("trigger", "parameters"),
    [
        (timedelta(minutes=10), {"RELATED": "END"}),  # 10 minutes after the end
        ("absolute, 5 minutes after the start", {"VALUE": "DATE-TIME"}),
    ],
    ids=["after the end", "at a time after the start"],
)
def test_an_alarm_after_the_start_is_kept_as_the_phone_s_own(
    trigger, parameters, alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment, marker = _helpdesk_entry(
        alice_calendar, tomorrow_9, tomorrow_9 + timedelta(minutes=45), django_capture_on_commit_callbacks
    )
    if isinstance(trigger, str):
        trigger = (tomorrow_9 + timedelta(minutes=5)).astimezone(UTC)
    _phone_alarm(alice_phone, marker, trigger, **parameters)
    assert _fires(alice_phone, marker)[0] > tomorrow_9  # no "minutes before the start" says it

    _kept_through_a_pull_and_a_push(
        alice_calendar, alice_phone, appointment, marker, django_capture_on_commit_callbacks
    )


def test_an_absolute_alarm_on_a_series_is_kept_as_the_phone_s_own(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        master = make_daily_series(alice_calendar.agent, tomorrow_9, subject="Stand-up")
    marker = SyncLink.objects.get(appointment=master).marker
    # One instant, an hour before the first occurrence: it rings once, not before each occurrence.
    _phone_alarm(alice_phone, marker, (tomorrow_9 - timedelta(hours=1)).astimezone(UTC), VALUE="DATE-TIME")

    _kept_through_a_pull_and_a_push(alice_calendar, alice_phone, master, marker, django_capture_on_commit_callbacks)


def test_our_alarm_edited_on_the_phone_to_ring_after_the_start_is_not_replaced(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment, marker = _helpdesk_entry(
        alice_calendar, tomorrow_9, tomorrow_9 + timedelta(minutes=45), django_capture_on_commit_callbacks
    )
    # Edited in place (Apple Calendar, Thunderbird): our marked VALARM, now 5 minutes after the end.
    event = alice_phone.by_uid(marker)
    (alarm,) = event.icalendar_component.walk("VALARM")
    alarm.pop("trigger")
    alarm.add("trigger", timedelta(minutes=5), parameters={"RELATED": "END"})
    event.save()

    _kept_through_a_pull_and_a_push(
        alice_calendar, alice_phone, appointment, marker, django_capture_on_commit_callbacks
    )


def test_the_phone_s_own_alarm_removed_later_is_no_reminder(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment, marker = _helpdesk_entry(
        alice_calendar, tomorrow_9, tomorrow_9 + timedelta(minutes=45), django_capture_on_commit_callbacks
    )
    _phone_alarm(alice_phone, marker, timedelta(minutes=10), RELATED="END")
    engine.sync_agent_calendar(alice_calendar, pull=True)
    event = alice_phone.by_uid(marker)
    component = event.icalendar_component
    component.subcomponents = [c for c in component.subcomponents if c.name != "VALARM"]
    event.save()

    engine.sync_agent_calendar(alice_calendar, pull=True)

    appointment.refresh_from_db()
    assert appointment.no_reminder
    assert _fires(alice_phone, marker) == []
