"""An admin relinks alice's Microsoft 365 calendar to another calendar of the same mailbox.

A Graph event id names an event in the whole mailbox, and GET .../calendars/{id}/events/{id}
answers it whatever calendar holds it (microsoft-graph-docs#391), so reading a link's old id after
the relink found the old calendar's entry and took it as present in the new calendar: nothing was
made there, and the next listing of the new calendar, which lacks them, deleted the appointments.
The entries must be re-created in the new calendar once and never deleted. Expected values: the
local Graph server's own store (which calendar holds which event), read as Outlook would show it.
"""

from collections import Counter
from datetime import timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.providers.graph.mapping import MARKER_PROPERTY_ID
from integrations.sync import engine
from tests.integrations.importing import start_importing

from .conftest import ALICE

pytestmark = pytest.mark.django_db

SUBJECTS = {"Visit 0", "Visit 1", "Far visit"}


def _markers_in(graph, calendar_id: str) -> Counter:
    """Our marker of each event the calendar holds, as Outlook stores it."""
    return Counter(
        prop["value"]
        for event in graph.events(ALICE)
        if event["_calendar"] == calendar_id
        for prop in event.get("singleValueExtendedProperties", [])
        if prop["id"].lower() == MARKER_PROPERTY_ID.lower()
    )


def _relink(admin_client, agent_calendar: AgentCalendar, calendar_id: str) -> AgentCalendar:
    """The admin's AgentCalendar change form, with another calendar id of the same connection."""
    form = {
        "agent": agent_calendar.agent.pk,
        "connection": agent_calendar.connection.pk,
        "mailbox": "",
        "calendar_id": calendar_id,
        "calendar_name": "",
        "state": agent_calendar.state,
    }
    response = admin_client.post(f"/admin/integrations/agentcalendar/{agent_calendar.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return AgentCalendar.objects.get(pk=agent_calendar.pk)


def test_relinking_to_another_calendar_of_the_mailbox_re_creates_the_entries_there_once(
    admin_client, alice_graph, graph, tomorrow_9
):
    alice_calendar = start_importing(alice_graph)
    for number in range(2):
        start = tomorrow_9 + timedelta(hours=number)
        calendar_services.create_appointment(
            subject=f"Visit {number}", start=start, end=start + timedelta(hours=1), agents=[alice_calendar.agent]
        )
    far = tomorrow_9 + timedelta(days=CalendarSettings.load().import_days_future + 30)
    calendar_services.create_appointment(
        subject="Far visit", start=far, end=far + timedelta(hours=1), agents=[alice_calendar.agent]
    )
    assert engine.sync_agent_calendar(alice_calendar, pull=True).failed == 0
    old = alice_calendar.calendar_id
    markers = Counter(SyncLink.objects.values_list("marker", flat=True))
    assert _markers_in(graph, old) == markers and len(markers) == 3
    new = graph.add_calendar(ALICE, "Helpdesk")

    relinked = _relink(admin_client, alice_calendar, new)
    assert relinked.moved_from == old and relinked.calendar_id == new
    report = engine.sync_agent_calendar(relinked, pull=True)

    assert report.failed == 0, report.errors
    assert _markers_in(graph, new) == markers  # each entry once in the new calendar
    assert _markers_in(graph, old) == markers  # the old calendar is left as it was
    assert {graph.calendar_of(ALICE, link.remote_id) for link in SyncLink.objects.all()} == {new}
    assert set(Appointment.objects.values_list("subject", flat=True)) == SUBJECTS
    log = SyncLogEntry.objects.filter(agent_calendar=alice_calendar)
    assert log.filter(operation="re-create").count() == 3
    assert "3 not there and re-created" in log.get(operation="first listing after move").message
    assert AgentCalendar.objects.get(pk=alice_calendar.pk).moved_from == ""

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    # The next pull makes nothing twice. (It reads the far entry's create, outside the window, as a
    # deletion: another fault, shown by the xfail test below, so only the window's entries are checked.)
    assert report.failed == 0 and report.pushed == 0, report.summary()
    assert _markers_in(graph, new) == markers
    assert {"Visit 0", "Visit 1"} <= set(Appointment.objects.values_list("subject", flat=True))
    assert not log.filter(operation="delete", direction=SyncLogEntry.Direction.INBOUND, subject__startswith="Visit")


@pytest.mark.xfail(
    strict=True,
    reason="Graph reads a calendarView delta's @removed as a deletion, also for an entry written outside "
    "the window (found while testing the relink; not this change's fault)",
)
def test_a_helpdesk_entry_beyond_the_window_survives_the_pull_after_its_push(alice_graph, tomorrow_9):
    alice_calendar = start_importing(alice_graph)
    far = tomorrow_9 + timedelta(days=CalendarSettings.load().import_days_future + 30)
    calendar_services.create_appointment(
        subject="Far visit", start=far, end=far + timedelta(hours=1), agents=[alice_calendar.agent]
    )
    assert engine.sync_agent_calendar(alice_calendar, pull=True).failed == 0

    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert set(Appointment.objects.values_list("subject", flat=True)) == {"Far visit"}


def test_get_reads_an_event_of_the_linked_calendar_only(graph_connection, graph, tomorrow_9):
    """GET /users/{id}/events/{id} answers an event of any calendar of the mailbox (microsoft-graph-docs
    #391): `get` takes one in another calendar as not there, one in the linked calendar as it is."""
    from integrations import services
    from integrations.providers.base import RemoteCalendar, RemoteRef

    other = graph.add_calendar(ALICE, "Helpdesk")
    default = graph.mailboxes[ALICE].calendar_id
    in_default = graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + timedelta(hours=1), "Dentist")
    in_other = graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + timedelta(hours=1), "Rota", calendar_id=other)
    provider = services.provider_for(graph_connection)

    assert provider.get(RemoteCalendar(ALICE, other), RemoteRef(in_default["id"], None)) is None
    assert provider.get(RemoteCalendar(ALICE, default), RemoteRef(in_other["id"], None)) is None
    assert provider.get(RemoteCalendar(ALICE, other), RemoteRef(in_other["id"], None)).subject == "Rota"
    assert provider.get(RemoteCalendar(ALICE, default), RemoteRef(in_default["id"], None)).subject == "Dentist"
