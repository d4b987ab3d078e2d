"""Microsoft 365: an entry moved beyond the import window is not deleted.

A calendarView delta reports an event that leaves its range, or changes while outside it, as
`@removed` (Graph "event: delta", "Get incremental changes to events in a calendar view"); the
`reason` says whether it was deleted ("deleted") or only left the view ("changed"; Graph "Use
delta query to track changes in Microsoft Graph data", OData's deleted-entity reasons), and may
be absent. Only an event deleted, or gone when asked for, is a deletion. Expected values: the local
Graph server's own store (`graph.events`), never our connector.
"""

from datetime import UTC, timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.integrations.importing import start_importing
from tests.peers.graph import graph_time

from .conftest import ALICE

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _sync(agent_calendar: AgentCalendar) -> engine.SyncReport:
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=agent_calendar.pk), pull=True)
    assert report.failed == 0, report.errors
    return report


def _beyond_window(tomorrow_9):
    return tomorrow_9 + timedelta(days=CalendarSettings.load().import_days_future + 30)


def _pushed_visit(agent_calendar: AgentCalendar, start) -> Appointment:
    appointment = calendar_services.create_appointment(
        subject="Visit", start=start, end=start + HOUR, agents=[agent_calendar.agent]
    )
    _sync(agent_calendar)
    return Appointment.objects.get(pk=appointment.pk)


def _inbound_deletes(agent_calendar: AgentCalendar):
    return SyncLogEntry.objects.filter(
        agent_calendar=agent_calendar, operation="delete", direction=SyncLogEntry.Direction.INBOUND
    )


def _spans(graph) -> list[tuple]:
    return [(event["subject"], event["_start"], event["_end"]) for event in graph.events(ALICE)]


def test_an_entry_moved_beyond_the_window_in_the_helpdesk_survives_the_next_pulls_in_both_places(
    alice_graph, graph, tomorrow_9
):
    alice_calendar = start_importing(alice_graph)
    appointment = _pushed_visit(alice_calendar, tomorrow_9)
    far = _beyond_window(tomorrow_9)

    calendar_services.update_appointment(appointment, start=far, end=far + HOUR)
    _sync(alice_calendar)  # pushes the move: Graph's next delta has the event @removed ("changed")
    _sync(alice_calendar)
    _sync(alice_calendar)

    appointment = Appointment.objects.get(pk=appointment.pk)
    assert (appointment.start, appointment.end) == (far, far + HOUR)
    assert _spans(graph) == [("Visit", far.astimezone(UTC), (far + HOUR).astimezone(UTC))]
    assert SyncLink.objects.get().remote_id == graph.events(ALICE)[0]["id"]
    assert not _inbound_deletes(alice_calendar).exists()


@pytest.mark.parametrize("reasons", [True, False], ids=["reason changed", "no reason"])
def test_an_entry_moved_beyond_the_window_on_the_phone_is_not_deleted_in_the_helpdesk(
    alice_graph, graph, tomorrow_9, reasons
):
    """Another Graph client (the phone's Outlook) moves the entry far ahead: the helpdesk keeps the
    appointment and follows the move, as for any change made there."""
    graph.removed_reasons = reasons
    alice_calendar = start_importing(alice_graph)
    appointment = _pushed_visit(alice_calendar, tomorrow_9)
    far = _beyond_window(tomorrow_9)

    graph.outlook_edit(
        ALICE, SyncLink.objects.get().remote_id, start=graph_time(far, "UTC"), end=graph_time(far + HOUR, "UTC")
    )
    _sync(alice_calendar)
    _sync(alice_calendar)

    appointment = Appointment.objects.get(pk=appointment.pk)
    assert (appointment.start, appointment.end) == (far, far + HOUR)
    assert _spans(graph) == [("Visit", far.astimezone(UTC), (far + HOUR).astimezone(UTC))]
    assert not _inbound_deletes(alice_calendar).exists()


@pytest.mark.parametrize("reasons", [True, False], ids=["reason deleted", "no reason"])
def test_an_entry_deleted_on_the_phone_is_still_deleted_in_the_helpdesk(alice_graph, graph, tomorrow_9, reasons):
    """An entry made in Outlook and imported, then deleted there: `@removed` with reason "deleted",
    or with no reason and the event gone when asked for (404), deletes the appointment."""
    graph.removed_reasons = reasons
    alice_calendar = start_importing(alice_graph)
    made = graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Dentist")
    _sync(alice_calendar)
    assert list(Appointment.objects.values_list("subject", flat=True)) == ["Dentist"]

    graph.outlook_delete(ALICE, made["id"])
    _sync(alice_calendar)

    assert not Appointment.objects.exists()
    assert graph.events(ALICE) == []
    assert _inbound_deletes(alice_calendar).filter(subject="Dentist").exists()
