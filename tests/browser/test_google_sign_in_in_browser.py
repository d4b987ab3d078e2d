"""A technician connects their own Google calendar in a real browser, through the local Google
server's consent screen and back."""

import pytest

from integrations import services
from integrations.models import AgentCalendar
from tests.peers.google import GoogleCalendarServer

ALICE = "alice@example.com"
CLIENT = "client-1.apps.googleusercontent.com"


@pytest.fixture
def google():
    with GoogleCalendarServer() as server:
        server.add_user(ALICE)
        server.add_oauth_client(CLIENT, "client-secret")
        server.signed_in_user = ALICE  # signed in to Google in this browser
        yield server


@pytest.mark.django_db(transaction=True)
def test_a_technician_connects_their_google_calendar_in_the_browser(open_page, log_in, make_agent, google):
    alice = make_agent("alice")
    connection = services.add_connection(
        name="Google (personal)",
        kind="google",
        url="",
        username=CLIENT,
        secret="client-secret",
        options={
            "auth": "oauth",
            "api_endpoint": google.api_endpoint,
            "batch_uri": google.batch_uri,
            "token_uri": google.token_uri,
            "auth_uri": google.auth_uri,
        },
    )
    page = log_in(open_page(), "alice")

    page.goto("/me/")
    page.click("text=Connect my Google calendar")
    page.click("button:has-text('Connect my Google calendar')")
    page.wait_for_selector("text=Google allowed access")

    assert f"Connected: {ALICE}" in page.inner_text("main")
    agent_calendar = AgentCalendar.objects.get(agent=alice, connection=connection)
    assert agent_calendar.calendar_id == ALICE and agent_calendar.has_secret
    assert [grant["grant_type"] for grant in google.token_requests][:2] == ["authorization_code", "refresh_token"]
