import pytest

from tests.integrations.importing import start_importing
from tests.peers.graph import GraphServer

TENANT = "7d1c6a4e-2b3f-4c5d-8e9f-0a1b2c3d4e5f"
CLIENT_ID = "5b8e2f1a-6c4d-4e3b-9a7f-1d2c3b4a5e6f"
SECRET = "app-secret-value"
ALICE = "alice@example.com"


@pytest.fixture
def graph():
    """A local Microsoft 365 tenant with alice's and bob's mailboxes and our app registration (consented)."""
    # The app registration's web redirect URI is our sign-in callback, as the README has admins enter it.
    callback = "http://testserver/me/sync/microsoft365/callback/"
    with GraphServer(tenant=TENANT, clients={CLIENT_ID: SECRET}, redirect_uris={CLIENT_ID: [callback]}) as server:
        # Graph pages every collection (10 by default; odata.maxpagesize is only a preference): small
        # pages here so every test reads delta, calendars and instances across nextLinks.
        server.max_page_size = 4
        server.add_mailbox(ALICE)
        server.add_mailbox("bob@example.com")
        yield server
    # Issue 12: every Graph call, $batch items included, asks for immutable ids and for the zone of the
    # times it returns; checked after every test of the Graph suite, whatever it did.
    assert server.without_immutable_ids == [], f"Graph calls without IdType=ImmutableId: {server.without_immutable_ids}"
    assert server.without_outlook_timezone == [], (
        f"Graph calls without outlook.timezone: {server.without_outlook_timezone}"
    )


@pytest.fixture
def graph_connection(db, graph):
    from integrations import services

    return services.add_connection(
        name="Microsoft 365",
        kind="graph",
        url=graph.base_url,
        username=CLIENT_ID,
        secret=SECRET,
        options={"tenant_id": TENANT, "authority": graph.authority, "ca_bundle": str(graph.ca_path), "timeout": 5},
    )


@pytest.fixture
def alice_graph(alice, graph_connection):
    from integrations import services

    return services.connect_agent(alice, connection=graph_connection)


@pytest.fixture
def importing_graph(alice_graph):
    """Alice imports entries made in Outlook; the first pull has taken the delta link."""
    return start_importing(alice_graph)
