from datetime import UTC, datetime, timedelta

import pytest

from integrations.providers.base import RemoteCalendar, Window
from integrations.providers.exchange import ExchangeProvider, exchange_provider_from_settings
from tests.integrations.importing import start_importing
from tests.peers.ews import EwsServer

SERVICE_ACCOUNT = "svc-helpdesk@example.com"
PASSWORD = "secret"
ALICE = "alice@example.com"


@pytest.fixture
def ews():
    """A local Exchange 2016 with alice's and bob's mailboxes; the service account may impersonate."""
    with EwsServer(accounts={SERVICE_ACCOUNT: PASSWORD}) as server:
        server.add_mailbox(ALICE)
        server.add_mailbox("bob@example.com")
        server.grant_impersonation(SERVICE_ACCOUNT)
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def connection_settings(ews) -> dict:
    return {
        "server_url": ews.url,
        "username": SERVICE_ACCOUNT,
        "password": PASSWORD,
        "version": "2016",
        "auth_type": "basic",
        "access_type": "impersonation",
    }


@pytest.fixture
def provider(connection_settings, sleeps) -> ExchangeProvider:
    """The provider as the engine builds it; waits are recorded instead of slept."""
    return exchange_provider_from_settings(connection_settings, sleep=sleeps.append)


@pytest.fixture
def calendar(provider) -> RemoteCalendar:
    return provider.find_calendar(ALICE)


@pytest.fixture
def window() -> Window:
    now = datetime.now(UTC)
    return Window(start=now - timedelta(days=30), end=now + timedelta(days=180))


# --- the sync engine on an Exchange connection ------------------------------------------------------


@pytest.fixture
def ews_connection(db, ews):
    from integrations import services

    return services.add_connection(
        name="Exchange",
        kind="ews",
        url=ews.url,
        username=SERVICE_ACCOUNT,
        secret=PASSWORD,
        options={"version": "2016", "auth_type": "basic", "access_type": "impersonation", "timeout": 5},
    )


@pytest.fixture
def alice_exchange(alice, ews_connection):
    """Alice's Exchange calendar, connected through the service account's impersonation."""
    from integrations import services

    return services.connect_agent(alice, connection=ews_connection)


@pytest.fixture
def importing_exchange(alice_exchange):
    """Alice imports entries made in Outlook; the first pull has taken the sync state."""
    return start_importing(alice_exchange)
