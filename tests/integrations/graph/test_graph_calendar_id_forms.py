"""Microsoft 365: a calendar's id in a second form. Container ids (calendar, mailFolder) are not
immutable (learn.microsoft.com/graph/outlook-immutable-id) and one calendar's id is reported to come
back in another form (microsoft-graph-docs#5580, #6699, #11296): an event's expanded `calendar` may
name the linked calendar by a form that is neither the stored id nor the one GET
/calendars/{id}?$select=id gives. `get` must then still find the entry; only a calendar Graph
confirms to be another one makes it "not there". The peer's `calendar_id_second_form` switch gives
the expanded id in a second form; which calendar holds which event is the peer's own store."""

from datetime import timedelta

import pytest

from calendars import services as calendar_services
from integrations import services
from integrations.models import SyncLink
from integrations.providers.base import RemoteCalendar, RemoteRef, TransientError
from tests.integrations.relink_scenarios import kept_once_after_a_refused_push, relinked_entries_are_made_there_once
from tests.integrations.test_caldav_sync import make

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def test_get_finds_an_event_whose_calendar_comes_in_a_second_form(graph_connection, graph, tomorrow_9):
    other = graph.add_calendar(ALICE, "Helpdesk")
    default = graph.mailboxes[ALICE].calendar_id
    in_default = graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + timedelta(hours=1), "Dentist")
    in_other = graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + timedelta(hours=1), "Rota", calendar_id=other)
    graph.calendar_id_second_form = True
    provider = services.provider_for(graph_connection)

    assert provider.get(RemoteCalendar(ALICE, default), RemoteRef(in_default["id"], None)).subject == "Dentist"
    assert provider.get(RemoteCalendar(ALICE, other), RemoteRef(in_other["id"], None)).subject == "Rota"
    # Confirmed to be another calendar of the mailbox: not there.
    assert provider.get(RemoteCalendar(ALICE, other), RemoteRef(in_default["id"], None)) is None
    assert provider.get(RemoteCalendar(ALICE, default), RemoteRef(in_other["id"], None)) is None


def test_get_that_cannot_tell_the_calendar_is_unanswered_not_gone(graph_connection, graph, tomorrow_9):
    """Graph will not say which calendar the expanded id names: TransientError, never None."""
    event = graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + timedelta(hours=1), "Dentist")
    graph.calendar_id_second_form = True
    provider = services.provider_for(graph_connection)
    calendar = RemoteCalendar(ALICE, graph.mailboxes[ALICE].calendar_id)
    provider._canonical_id(ALICE, calendar.calendar_id)  # the linked calendar's own form is known

    graph.fail(400, "ErrorInvalidIdMalformed", path="/calendars/AQMk")

    with pytest.raises(TransientError):
        provider.get(calendar, RemoteRef(event["id"], None))


def test_a_refused_push_read_again_keeps_the_appointment_when_the_calendar_id_has_a_second_form(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    """A 412 on a push is decided again on the entry as read now (`_decide_again`): an entry of the
    linked calendar read with its calendar in a second form is that entry, neither deleted nor made
    a second time."""
    appointment = make(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    remote_id = SyncLink.objects.get().remote_id
    graph.outlook_edit(ALICE, remote_id, categories=["Red category"])
    graph.calendar_id_second_form = True

    with django_capture_on_commit_callbacks(execute=True):  # the push holds the old changeKey: 412
        calendar_services.update_appointment(appointment, subject="Changed in the helpdesk")

    entries = [(event["id"], event["subject"]) for event in graph.events(ALICE)]
    kept_once_after_a_refused_push(entries, remote_id, "Changed in the helpdesk")


def test_a_relink_with_calendar_ids_in_a_second_form_still_re_creates_the_entries(
    admin_client, alice_graph, graph, tomorrow_9
):
    graph.calendar_id_second_form = True
    relinked_entries_are_made_there_once(admin_client, alice_graph, graph, tomorrow_9)
