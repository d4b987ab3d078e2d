"""A series whose exceptions are undone on the phone (Google Calendar): Google's recurring-events
guide restores an occurrence by writing its instance event ("<master id>_<original start>") back to
status "confirmed" at its original times, and a cancellation the master's EXDATE holds by
writing the master's recurrence without it. After the pull the helpdesk holds the series as the
Google server's own events give it (expanded by recurring-ical-events), and a later helpdesk push
brings neither the old cancellation nor the old move back."""

from datetime import UTC, timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import AgentCalendar, SyncLink
from integrations.sync import engine
from tests.integrations.series import helpdesk_view, make_weekly_series
from tests.integrations.test_caldav_sync import pull
from tests.peers.google import instance_id

from .conftest import ALICE
from .test_google_sync import google_view, when

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def shown(master, start, end) -> list[tuple]:
    return [(s.astimezone(UTC), e.astimezone(UTC), subject) for s, e, subject in helpdesk_view(master, start, end)]


def test_exceptions_undone_on_the_phone_leave_no_stale_occurrence_and_are_not_pushed_back(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    master = make_weekly_series(alice_google.agent, tomorrow_9, django_capture_on_commit_callbacks)
    occurrences = list(master.occurrences.order_by("original_start"))
    moved = occurrences[1]  # the third, cancelled, is an EXDATE on the master
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(moved, subject="Moved, call first")
    pull(alice_google)
    master_id = SyncLink.objects.get(appointment=master).remote_id
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=60))
    before = google_view(google, *window)
    assert len(before) == 5  # one cancelled
    assert [t for _s, _e, t in before].count("Moved, call first") == 1  # the occurrence's own subject reached Google
    assert shown(master, *window) == before
    # The moved occurrence back at the rule's time with the series' text, and the cancelled one
    # brought back by writing the master's recurrence without its EXDATE.
    google.phone_patch(
        ALICE,
        instance_id(master_id, moved.original_start),
        start=when(moved.original_start),
        end=when(moved.original_start + HOUR),
        summary="Weekly check",
    )
    recurrence = google.event(ALICE, master_id)["recurrence"]
    assert any(line.startswith("EXDATE") for line in recurrence)
    google.phone_patch(ALICE, master_id, recurrence=[line for line in recurrence if not line.startswith("EXDATE")])

    report = pull(alice_google)

    assert (report.pulled, report.failed) == (1, 0)
    want = google_view(google, *window)
    assert shown(master, *window) == want
    assert [(s, t) for s, _e, t in want] == [
        ((tomorrow_9 + timedelta(weeks=n)).astimezone(UTC), "Weekly check") for n in range(6)
    ]

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(Appointment.objects.get(pk=master.pk), location="Basement")
    pull(alice_google)

    assert google_view(google, *window) == want == shown(master, *window)
    again = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_google.pk), pull=True)
    assert (again.pushed, again.pulled) == (0, 0)
