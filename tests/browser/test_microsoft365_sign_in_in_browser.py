"""A technician connects their own Microsoft 365 calendar in a real browser: our connect button, the
local identity platform's authorize endpoint (authorization code with PKCE), back to our callback,
and the code redeemed by the (eager) Celery task."""

import pytest

from integrations import services
from integrations.models import DelegatedGrant
from tests.peers.graph import GraphServer

TENANT = "7d1c6a4e-2b3f-4c5d-8e9f-0a1b2c3d4e5f"
CLIENT_ID = "5b8e2f1a-6c4d-4e3b-9a7f-1d2c3b4a5e6f"
SECRET = "app-secret-value"
ALICE = "alice@example.com"


@pytest.fixture
def graph():
    with GraphServer(tenant=TENANT, clients={CLIENT_ID: SECRET}) as server:
        server.add_mailbox(ALICE)
        yield server


@pytest.mark.django_db(transaction=True)
def test_a_technician_connects_their_microsoft_365_calendar_in_the_browser(open_page, log_in, make_agent, graph):
    alice = make_agent("alice")
    connection = services.add_connection(
        name="Microsoft 365 (own sign-in)",
        kind="graph",
        url=graph.base_url,
        username=CLIENT_ID,
        secret=SECRET,
        options={
            "tenant_id": TENANT,
            "authority": graph.authority,
            "ca_bundle": str(graph.ca_path),
            "delegated": True,
            "timeout": 5,
        },
    )
    # The local identity platform's certificate comes from a test CA the browser does not know.
    page = log_in(open_page(ignore_https_errors=True), "alice")
    authorize_visits = []
    page.on("request", lambda r: "/oauth2/v2.0/authorize?" in r.url and authorize_visits.append(r.url))

    page.goto("/me/sync/")
    page.click("button:has-text('Connect my Microsoft 365 calendar')")
    page.wait_for_selector("text=Connecting your Microsoft 365 calendar")

    (authorize,) = authorize_visits
    assert authorize.startswith(f"{graph.authority}/oauth2/v2.0/authorize?")
    assert "code_challenge_method=S256" in authorize
    assert page.url.endswith("/me/sync/")
    main = page.inner_text("main")
    assert "Connect my Microsoft 365 calendar" not in main and "Reconnect" not in main
    assert "Microsoft 365 (own sign-in)" in main
    grant = DelegatedGrant.objects.get()
    assert (grant.agent_calendar.agent, grant.agent_calendar.connection) == (alice, connection)
    assert grant.revoked_at is None
    stored = grant.get_refresh_token()
    assert stored in graph.refresh_tokens and stored not in grant.refresh_token_encrypted
    assert ("POST", f"/{TENANT}/oauth2/v2.0/token", "") in graph.requests
