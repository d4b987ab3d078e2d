"""Issue 14 on Microsoft Graph: entries changed and deleted in Outlook are pulled in batches,
with SQL statements that do not grow with their number (the CalDAV side: test_pull_at_scale)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendars.models import Appointment
from integrations.models import SyncLink, SyncLogEntry
from tests.integrations.test_caldav_sync import pull

from .conftest import ALICE

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def made_in_outlook(graph, count: int, *, first: datetime) -> list[str]:
    """`count` entries made in Outlook, an hour apart; their ids."""
    return [
        graph.outlook_add(ALICE, first + n * HOUR, first + n * HOUR + HOUR / 2, f"Visit {n}")["id"]
        for n in range(count)
    ]


def statements(agent_calendar) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        report = pull(agent_calendar)
    return len(queries.captured_queries), report


def edit_in_outlook(graph, ids: list[str]) -> None:
    for event_id in ids:
        event = next(e for e in graph.events(ALICE) if e["id"] == event_id)
        start = event["_start"].astimezone(UTC) + HOUR  # the peer keeps an entry's times as instants
        graph.outlook_edit(
            ALICE,
            event_id,
            subject="Changed " + event["subject"],
            start={"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            end={"dateTime": (start + HOUR).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        )


def test_entries_changed_in_outlook_cost_the_same_statements_at_10_and_100(
    importing_graph, graph, django_assert_max_num_queries
):
    first = (timezone.now() + timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
    ids = made_in_outlook(graph, 110, first=first)
    assert pull(importing_graph).pulled == 110
    edit_in_outlook(graph, ids[:10])
    small, report = statements(importing_graph)
    assert (report.pulled, report.failed) == (10, 0)

    edit_in_outlook(graph, ids[10:])
    with django_assert_max_num_queries(small + (100 - 10) // 50):
        report = pull(importing_graph)

    assert (report.pulled, report.failed) == (100, 0)
    want = {}
    for event in graph.events(ALICE):
        want[event["id"]] = (event["_start"].astimezone(UTC), event["_end"].astimezone(UTC), event["subject"])
    held = {
        link.remote_id: (link.appointment.start, link.appointment.end, link.appointment.subject)
        for link in SyncLink.objects.select_related("appointment")
    }
    assert held == want
    assert all(subject.startswith("Changed Visit") for _s, _e, subject in held.values())
    assert SyncLogEntry.objects.filter(operation="update", result="ok").count() == 110
    assert (pull(importing_graph).pulled, pull(importing_graph).pushed) == (0, 0)


def test_entries_deleted_in_outlook_cost_the_same_statements_at_10_and_100(
    importing_graph, graph, django_assert_max_num_queries
):
    first = (timezone.now() + timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
    ids = made_in_outlook(graph, 110, first=first)
    assert pull(importing_graph).pulled == 110
    for event_id in ids[:10]:
        graph.outlook_delete(ALICE, event_id)
    small, report = statements(importing_graph)
    assert (report.pulled, report.failed) == (10, 0)

    for event_id in ids[10:]:
        graph.outlook_delete(ALICE, event_id)
    with django_assert_max_num_queries(small + (100 - 10) // 50):
        report = pull(importing_graph)

    assert (report.pulled, report.failed) == (100, 0)
    assert not Appointment.objects.exists()
    assert not SyncLink.objects.exists()
    assert SyncLogEntry.objects.filter(operation="delete", result="ok").count() == 110
