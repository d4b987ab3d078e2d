"""A technician connects their own Google calendar: the consent screen of the local Google server,
the code exchanged by the worker, the refresh token stored encrypted, a withdrawn grant shown as
"reconnect"."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from calendars.models import Appointment
from integrations import services
from integrations.models import AgentCalendar
from integrations.sync import engine
from tests.peers.google import CALENDAR_SCOPE

from .conftest import ALICE

pytestmark = pytest.mark.django_db

CLIENT = "client-1.apps.googleusercontent.com"
PAGE = "/me/google/"


@pytest.fixture
def personal(google):
    google.add_oauth_client(CLIENT, "client-secret")
    google.signed_in_user = ALICE
    return services.add_connection(
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


def consent(address: str) -> str:
    """The browser at Google's consent screen: where Google sends it back."""
    session = requests.Session()
    session.trust_env = False
    answer = session.get(address, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    return answer.headers["Location"]


def back_to_us(location: str) -> str:
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def test_a_technician_connects_their_own_google_calendar(client, alice, personal, google, tomorrow_9):
    client.force_login(alice.user)
    assert "Connect my Google calendar" in client.get(PAGE).content.decode()

    to_google = client.post(PAGE, {"connection": personal.pk})
    query = parse_qs(urlsplit(to_google["Location"]).query)
    assert (query["access_type"], query["scope"], query["login_hint"]) == (["offline"], [CALENDAR_SCOPE], [ALICE])
    answer = client.get(back_to_us(consent(to_google["Location"])), follow=True)

    agent_calendar = AgentCalendar.objects.get(agent=alice, connection=personal)
    assert agent_calendar.calendar_id == ALICE
    assert agent_calendar.has_secret and google.token_requests[0]["grant_type"] == "authorization_code"
    assert f"Connected: <strong>{ALICE}</strong>" in answer.content.decode()

    start, end = tomorrow_9.isoformat(), (tomorrow_9 + timedelta(hours=1)).isoformat()
    google.phone_insert(ALICE, summary="Dentist", start={"dateTime": start}, end={"dateTime": end})
    alice.import_external = True
    alice.save()
    engine.sync_agent_calendar(agent_calendar, pull=True)  # the stored refresh token works for the sync

    assert Appointment.objects.get().subject == "Dentist"


def test_a_withdrawn_grant_shows_reconnect(client, alice, personal, google):
    token = google.issue_refresh_token(CLIENT, ALICE, [CALENDAR_SCOPE])
    agent_calendar = services.connect_own_google_calendar(alice, connection=personal, refresh_token=token)
    google.revoke(token)
    with pytest.raises(services.ConnectionProblem):
        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=agent_calendar.pk), pull=True)
    client.force_login(alice.user)

    page = client.get(PAGE).content.decode()

    assert "Reconnect" in page and "reconnect on the" in page


def test_denied_access_or_a_foreign_state_connects_nothing(client, alice, personal, google):
    client.force_login(alice.user)
    google.consent = False
    to_google = client.post(PAGE, {"connection": personal.pk})
    denied = client.get(back_to_us(consent(to_google["Location"])), follow=True)
    assert "was not allowed" in denied.content.decode()

    google.consent = True
    to_google = client.post(PAGE, {"connection": personal.pk})
    location = consent(to_google["Location"]).replace("state=", "state=forged")
    forged = client.get(back_to_us(location), follow=True)

    assert "did not start here" in forged.content.decode()
    assert not AgentCalendar.objects.exists()
