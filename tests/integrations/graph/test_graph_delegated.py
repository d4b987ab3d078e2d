"""A technician connects their own Microsoft 365 calendar: authorization code with PKCE against the
local identity platform, the refresh token stored encrypted and rotated, a revoked grant shown as
"Reconnect"."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from calendars.models import Appointment
from integrations import services
from integrations.models import DelegatedGrant, SyncLink
from integrations.providers.base import ConnectionProblem
from integrations.sync import engine
from tests.integrations.test_caldav_sync import make

from .conftest import ALICE, CLIENT_ID, SECRET, TENANT

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture
def delegated_connection(graph):
    return services.add_connection(
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


def sign_in(client, graph, connection) -> None:
    """The browser's trip: our connect button, Microsoft's authorize endpoint, back to our callback."""
    page = client.get("/me/sync/").content.decode()
    assert "Connect my Microsoft 365 calendar" in page or "Reconnect" in page
    response = client.post(f"/me/sync/microsoft365/{connection.pk}/connect/")
    assert response.status_code == 302
    authorize = response["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{graph.authority}/oauth2/v2.0/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["login_hint"] == [ALICE]
    session = requests.Session()
    session.trust_env, session.verify = False, str(graph.ca_path)
    back = session.get(authorize, allow_redirects=False).headers["Location"]
    parts = urlsplit(back)
    response = client.get(f"{parts.path}?{parts.query}", follow=True)
    assert response.status_code == 200


def test_technician_connects_their_own_calendar_and_it_syncs(
    client, alice, graph, delegated_connection, tomorrow_9, django_capture_on_commit_callbacks
):
    client.force_login(alice.user)
    with django_capture_on_commit_callbacks(execute=True):
        sign_in(client, graph, delegated_connection)

    grant = DelegatedGrant.objects.get()
    assert grant.revoked_at is None
    stored = grant.get_refresh_token()
    assert stored in graph.refresh_tokens and stored not in grant.refresh_token_encrypted
    agent_calendar = grant.agent_calendar
    assert (agent_calendar.agent, agent_calendar.connection) == (alice, delegated_connection)

    make(alice, tomorrow_9, django_capture_on_commit_callbacks)

    (event,) = graph.events(ALICE)
    assert event["subject"] == "Server room visit"
    assert SyncLink.objects.get().remote_id == event["id"]
    grant.refresh_from_db()
    assert grant.get_refresh_token() != stored  # rotated on use, the new one stored encrypted
    page = client.get("/me/sync/").content.decode()
    assert "Connect my Microsoft 365 calendar" not in page


def test_a_revoked_sign_in_shows_reconnect(
    client, alice, graph, delegated_connection, tomorrow_9, django_capture_on_commit_callbacks
):
    client.force_login(alice.user)
    with django_capture_on_commit_callbacks(execute=True):
        sign_in(client, graph, delegated_connection)
    agent_calendar = DelegatedGrant.objects.get().agent_calendar
    graph.revoke_sign_ins(ALICE)

    with pytest.raises(ConnectionProblem, match="reconnect on the calendar sync page"):
        engine.sync_agent_calendar(agent_calendar, pull=True)

    assert DelegatedGrant.objects.get().revoked_at is not None
    page = client.get("/me/sync/").content.decode()
    assert "Reconnect" in page and "no longer accepts your sign-in" in page

    with django_capture_on_commit_callbacks(execute=True):
        sign_in(client, graph, delegated_connection)
    graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Dentist")
    alice.import_external = True
    alice.save()
    engine.sync_agent_calendar(DelegatedGrant.objects.get().agent_calendar, pull=True)
    assert DelegatedGrant.objects.get().revoked_at is None
    assert Appointment.objects.filter(subject="Dentist").exists()


def test_a_delegated_token_opens_only_its_own_mailbox(
    client, alice, graph, delegated_connection, django_capture_on_commit_callbacks
):
    client.force_login(alice.user)
    with django_capture_on_commit_callbacks(execute=True):
        sign_in(client, graph, delegated_connection)
    provider = services.provider_for(delegated_connection)

    with pytest.raises(ConnectionProblem, match="has not connected"):
        provider.find_calendar("bob@example.com")
    assert provider.find_calendar(ALICE).calendar_id == graph.mailboxes[ALICE].calendar_id


def test_a_callback_with_a_foreign_state_connects_nothing(client, alice, graph, delegated_connection):
    client.force_login(alice.user)
    client.post(f"/me/sync/microsoft365/{delegated_connection.pk}/connect/")

    response = client.get("/me/sync/microsoft365/callback/?code=stolen&state=other", follow=True)

    assert "did not start here" in response.content.decode()
    assert not DelegatedGrant.objects.exists()


def test_the_sync_page_lets_its_connect_form_go_on_to_the_sign_in_page(client, alice, graph, delegated_connection):
    """CSP Level 3: form-action is checked on every redirect of a form submission, so the page with
    "Connect my Microsoft 365 calendar" must allow the identity platform's origin, or the browser
    stops on our page (shown in tests/browser/test_microsoft365_sign_in_in_browser.py)."""
    client.force_login(alice.user)

    policy = client.get("/me/sync/")["Content-Security-Policy"]

    (form_action,) = [part.split() for part in policy.split(";") if part.split()[:1] == ["form-action"]]
    assert form_action == ["form-action", "'self'", graph.root]
