"""Trial F1 checked on Exchange: its calendars are folder ids, not URLs, and the provider is built from
the connection's current EWS address at every sync, so a moved service URL is where the next sync
goes; admin says so and each linked calendar's sync log gets one line."""

import socket
from datetime import timedelta

import pytest

from integrations.models import AgentCalendar, SyncLogEntry
from integrations.providers.base import ProviderError
from integrations.sync import engine

from .test_exchange_admin import exchange_form


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_moved_ews_address_is_the_one_the_next_sync_uses(admin_client, ews, alice_exchange):
    connection = alice_exchange.connection
    folder = alice_exchange.calendar_id
    port = _free_port()
    moved = f"http://127.0.0.1:{port}/EWS/Exchange.asmx"

    response = admin_client.post(
        f"/admin/integrations/connection/{connection.pk}/change/",
        exchange_form(ews, server_url=moved, secret="", ews_version="2016", ews_access_type="impersonation"),
        follow=True,
    )

    assert "1 linked calendar(s) now sync with " + moved in response.content.decode()
    assert AgentCalendar.objects.get(pk=alice_exchange.pk).calendar_id == folder  # a folder id: nothing to move
    line = SyncLogEntry.objects.get(agent_calendar=alice_exchange, operation="server moved")
    assert moved in line.message
    with pytest.raises(ProviderError, match=str(port)):
        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_exchange.pk), pull=True)


def test_moving_an_ews_connection_to_an_empty_server_pushes_every_entry_and_deletes_none(alice_exchange, tomorrow_9):
    """The same guard as CalDAV's (engine: `AgentCalendar.moved_from`), for a calendar named by a
    folder id: a new, empty Exchange answering for alice's mailbox lists none of our items."""
    from calendars import services as calendar_services
    from calendars.models import Appointment
    from integrations import services
    from tests.peers.ews import EwsServer

    from .conftest import ALICE, PASSWORD, SERVICE_ACCOUNT

    for number in range(2):
        start = tomorrow_9 + timedelta(hours=number)
        calendar_services.create_appointment(
            subject=f"Visit {number}", start=start, end=start + timedelta(hours=1), agents=[alice_exchange.agent]
        )
    assert engine.sync_agent_calendar(alice_exchange, pull=True).failed == 0
    connection = alice_exchange.connection
    with EwsServer(accounts={SERVICE_ACCOUNT: PASSWORD}) as empty:
        empty.add_mailbox(ALICE)
        empty.grant_impersonation(SERVICE_ACCOUNT)

        services.add_connection(name=connection.name, kind="ews", url=empty.url, username=SERVICE_ACCOUNT)
        moved = AgentCalendar.objects.get(pk=alice_exchange.pk)
        assert moved.sync_token == "" and moved.moved_from == connection.server_url
        report = engine.sync_agent_calendar(moved, pull=True)

        assert report.failed == 0, report.errors
        assert sorted(item.subject for item in empty.items(ALICE)) == ["Visit 0", "Visit 1"]
    assert sorted(Appointment.objects.values_list("subject", flat=True)) == ["Visit 0", "Visit 1"]
    assert SyncLogEntry.objects.filter(operation="re-create").count() == 2
    assert AgentCalendar.objects.get(pk=alice_exchange.pk).moved_from == ""
