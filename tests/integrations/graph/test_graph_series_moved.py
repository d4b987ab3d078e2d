"""A series moved whole in Outlook (Microsoft 365): Outlook drops its exceptions and cancelled
occurrences, so after the pull the helpdesk holds the series as the local Graph server's own
calendar view shows it, and a later helpdesk push writes none of the old exceptions back."""

from datetime import UTC, timedelta

import pytest

from calendars.models import Appointment
from integrations.models import AgentCalendar, SyncLink
from integrations.sync import engine
from tests.integrations.series import helpdesk_view_utc as helpdesk_view
from tests.integrations.series import make_weekly_series, rename_moved_weekly_series
from tests.integrations.test_caldav_sync import pull

from .conftest import ALICE

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def outlook_view(graph, start, end) -> list[tuple]:
    """(start, end, subject) of what Outlook shows, in UTC, as the Graph server expands its own events."""
    return sorted(
        (e["_start"].astimezone(UTC), e["_end"].astimezone(UTC), e["subject"])
        for e in graph.calendar_view(ALICE, start, end)
    )


def graph_time(moment) -> dict:
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def test_helpdesk_series_moved_whole_in_outlook_keeps_no_old_exception_and_pushes_none(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    master = make_weekly_series(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    pull(alice_graph)
    master_id = SyncLink.objects.get(appointment=master).remote_id
    window = (tomorrow_9 - timedelta(days=1), tomorrow_9 + timedelta(days=60))
    assert len(outlook_view(graph, *window)) == 5  # one moved, one cancelled
    graph.outlook_edit(ALICE, master_id, start=graph_time(tomorrow_9 + HOUR), end=graph_time(tomorrow_9 + 2 * HOUR))

    report = pull(alice_graph)

    assert (report.pulled, report.failed) == (1, 0)
    assert helpdesk_view(*window) == outlook_view(graph, *window)
    assert len(helpdesk_view(*window)) == 6  # Outlook dropped the exceptions
    assert not Appointment.objects.filter(master=master, is_modified=True).exists()

    rename_moved_weekly_series(
        master,
        alice_graph,
        lambda *span: outlook_view(graph, *span),
        window,
        tomorrow_9,
        django_capture_on_commit_callbacks,
    )
    (event,) = graph.events(ALICE)
    assert (event["_exceptions"], event["_cancelled"]) == ({}, {})

    again = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_graph.pk), pull=True)

    assert (again.pushed, again.pulled) == (0, 0)
