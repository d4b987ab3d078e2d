"""Trial item 3: the phone removes every alarm of a series (its master's and its moved occurrences'
VALARMs). Every occurrence then has no reminder in the helpdesk, the moved ones too, unless one had
a reminder of its own; before, the moved occurrences kept the default reminder, which the phone
feed still rang. The phone is the caldav library writing to Radicale."""

from datetime import timedelta

import pytest

from calendars import services as calendar_services
from integrations.models import SyncLink
from integrations.sync import engine
from tests.integrations.series import make_daily_series

pytestmark = pytest.mark.django_db


def test_every_alarm_of_a_series_removed_on_the_phone_leaves_its_moved_occurrences_without_reminder(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        master = make_daily_series(alice_calendar.agent, tomorrow_9, subject="Team standup")
    first, moved, renamed, own = master.occurrences.order_by("start")[:4]
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(moved, start=moved.start + timedelta(minutes=30), end=moved.end)
        calendar_services.update_appointment(
            renamed,
            subject="Year-end standup",
            start=renamed.start + timedelta(hours=1),
            end=renamed.end + timedelta(hours=1),
        )
        calendar_services.update_appointment(
            own, start=own.start + timedelta(minutes=30), end=own.end, reminder_minutes=45
        )
    marker = SyncLink.objects.get(appointment=master).marker
    event = alice_phone.by_uid(marker)
    vevents = list(event.icalendar_instance.walk("VEVENT"))
    assert len(vevents) == 4 and all(v.walk("VALARM") for v in vevents)  # the master and three moved
    for vevent in vevents:
        vevent.subcomponents = [c for c in vevent.subcomponents if c.name != "VALARM"]
    event.save()

    engine.sync_agent_calendar(alice_calendar, pull=True)

    for appointment in (master, first, moved, renamed, own):
        appointment.refresh_from_db()
    reminders = {a.pk: (a.no_reminder, a.reminder_minutes) for a in (master, first, moved, renamed, own)}
    assert reminders == {
        master.pk: (True, None),
        first.pk: (True, None),
        moved.pk: (True, None),
        renamed.pk: (True, None),
        own.pk: (False, 45),  # its own reminder, set in the helpdesk, is not the series'
    }
