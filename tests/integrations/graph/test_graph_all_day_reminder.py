"""Trial L-ALLDAY-ALARM on Microsoft Graph: an all-day entry the helpdesk makes is written with
Outlook's own all-day default, reminderMinutesBeforeStart 1080 (18 hours before its midnight: 06:00
the day before), not the timed default of 15 (23:45 the evening before)."""

from datetime import date

import pytest

from calendars import services as calendar_services

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def test_an_all_day_entry_gets_outlook_s_all_day_reminder(alice_graph, graph, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_appointment(
            subject="Site survey day",
            start=date(2027, 1, 12),
            end=date(2027, 1, 13),
            all_day=True,
            agents=[alice_graph.agent],
        )

    (event,) = graph.events(ALICE)
    assert (event["isAllDay"], event["isReminderOn"], event["reminderMinutesBeforeStart"]) == (True, True, 1080)
