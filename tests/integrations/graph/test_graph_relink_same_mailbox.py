"""Microsoft 365: a calendar relinked to another calendar of the same mailbox (relink_scenarios),
and what Graph's `get` reads of an event of another calendar."""

from collections import Counter
from datetime import timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings
from integrations.models import AgentCalendar
from integrations.sync import engine
from tests.integrations.importing import start_importing
from tests.integrations.relink_scenarios import (
    push_before_the_first_listing_leaves_the_old_calendar,
    relinked_entries_are_made_there_once,
)

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def test_relinking_to_another_calendar_of_the_mailbox_re_creates_the_entries_there_once(
    admin_client, alice_graph, graph, tomorrow_9
):
    relinked_entries_are_made_there_once(admin_client, alice_graph, graph, tomorrow_9)


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


def test_a_push_before_the_first_listing_after_a_relink_leaves_the_old_calendar(
    admin_client, alice_graph, graph, tomorrow_9
):
    def subjects_in(calendar_id: str) -> Counter:
        return Counter(e["subject"] for e in graph.events(ALICE) if e["_calendar"] == calendar_id)

    push_before_the_first_listing_leaves_the_old_calendar(admin_client, alice_graph, graph, tomorrow_9, subjects_in)


def test_relinking_with_the_tick_box_removes_the_helpdesks_entries_from_the_old_calendar(
    admin_client, alice_graph, graph, tomorrow_9
):
    relinked_entries_are_made_there_once(admin_client, alice_graph, graph, tomorrow_9, remove_old=True)
