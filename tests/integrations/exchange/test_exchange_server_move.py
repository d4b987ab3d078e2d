"""Trial F1 checked on Exchange: its calendars are folder ids, not URLs, and the provider is built from
the connection's current EWS address at every sync, so a moved service URL is where the next sync
goes; admin says so and each linked calendar's sync log gets one line."""

import socket

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
