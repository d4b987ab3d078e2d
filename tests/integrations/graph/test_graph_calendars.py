"""Which calendar the Microsoft 365 sync works on (issue 12): the technician's chosen calendar, not
always the mailbox's default (Graph: POST /users/{id}/calendars/{id}/events, and the calendarView
delta of that calendar), and the app registration's redirect URI as Entra checks it (AADSTS50011)."""

import base64
import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations import services
from integrations.models import SyncLink
from integrations.sync import engine

from .conftest import ALICE, CLIENT_ID, SECRET

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
CALLBACK = "http://testserver/me/sync/microsoft365/callback/"


@pytest.fixture
def helpdesk_calendar(graph):
    return graph.add_calendar(ALICE, "Helpdesk")


@pytest.fixture
def alice_on_helpdesk_calendar(alice, graph_connection, helpdesk_calendar):
    """Alice syncs her "Helpdesk" calendar, not her default one."""
    alice.import_external = True
    alice.save()
    agent_calendar = services.connect_agent(alice, connection=graph_connection, calendar="Helpdesk")
    engine.sync_agent_calendar(agent_calendar, pull=True)
    agent_calendar.refresh_from_db()
    return agent_calendar


def test_connecting_to_a_named_calendar_takes_its_id(alice_on_helpdesk_calendar, helpdesk_calendar):
    assert alice_on_helpdesk_calendar.calendar_id == helpdesk_calendar


def test_creates_go_to_the_chosen_calendar_not_the_default(
    alice_on_helpdesk_calendar, graph, helpdesk_calendar, tomorrow_9
):
    appointment = calendar_services.create_appointment(
        subject="Visit", start=tomorrow_9, end=tomorrow_9 + HOUR, agents=[alice_on_helpdesk_calendar.agent]
    )

    engine.sync_agent_calendar(alice_on_helpdesk_calendar, pull=False)

    link = SyncLink.objects.get(appointment=appointment)
    assert graph.calendar_of(ALICE, link.remote_id) == helpdesk_calendar
    assert [r[1] for r in graph.graph_requests() if r[0] == "POST" and r[1].endswith("/events")] == []  # in a $batch
    assert graph.batch_items and all("/calendars/" in path for method, path in graph.batch_items if method == "POST")


def test_a_series_goes_to_the_chosen_calendar(alice_on_helpdesk_calendar, graph, helpdesk_calendar, tomorrow_9):
    agent, end = alice_on_helpdesk_calendar.agent, tomorrow_9 + HOUR
    master = calendar_services.create_recurring_appointment(
        rule="RRULE:FREQ=DAILY;COUNT=3", agents=[agent], start=tomorrow_9, end=end, subject="Stand-up"
    )

    engine.sync_agent_calendar(alice_on_helpdesk_calendar, pull=False)

    assert graph.calendar_of(ALICE, SyncLink.objects.get(appointment=master).remote_id) == helpdesk_calendar


def test_only_the_chosen_calendar_is_imported(alice_on_helpdesk_calendar, graph, helpdesk_calendar, tomorrow_9):
    graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Dentist (default calendar)")
    graph.outlook_add(ALICE, tomorrow_9, tomorrow_9 + HOUR, "Customer call", calendar_id=helpdesk_calendar)

    engine.sync_agent_calendar(alice_on_helpdesk_calendar, pull=True)

    assert list(Appointment.objects.values_list("subject", flat=True)) == ["Customer call"]


# --- the app registration's redirect URI (Entra, "Redirect URI (reply URL) restrictions") ---


def _authorize(graph, redirect_uri: str) -> requests.Response:
    verifier = "v" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": "offline_access Calendars.ReadWrite",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s1",
    }
    session = requests.Session()
    session.trust_env, session.verify = False, str(graph.ca_path)
    return session.get(f"{graph.authority}/oauth2/v2.0/authorize?{urlencode(query)}", allow_redirects=False)


def test_a_redirect_uri_the_app_registration_lacks_is_refused_with_aadsts50011(graph):
    answer = _authorize(graph, "https://helpdesk.example.com/me/sync/microsoft365/callback/")

    assert answer.status_code == 400 and "Location" not in answer.headers  # no way back to the app
    assert "AADSTS50011" in answer.json()["error_description"]


def test_the_registered_redirect_uri_gets_the_code(graph):
    answer = _authorize(graph, CALLBACK)

    assert answer.status_code == 302 and answer.headers["Location"].startswith(CALLBACK + "?code=")


def test_a_loopback_redirect_uri_matches_on_any_port(graph):
    graph.redirect_uris[CLIENT_ID].append("http://127.0.0.1/callback/")

    assert _authorize(graph, "http://127.0.0.1:8123/callback/").status_code == 302
    assert _authorize(graph, "http://127.0.0.1:8123/elsewhere/").status_code == 400


def test_the_code_is_redeemed_only_with_the_redirect_uri_it_was_issued_for(graph):
    code = parse_qs(urlsplit(_authorize(graph, CALLBACK).headers["Location"]).query)["code"][0]
    session = requests.Session()
    session.trust_env, session.verify = False, str(graph.ca_path)
    form = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": "v" * 43,
        "redirect_uri": "https://elsewhere.example.com/callback/",
    }

    answer = session.post(f"{graph.authority}/oauth2/v2.0/token", data=form)

    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"  # RFC 6749 section 4.1.3
