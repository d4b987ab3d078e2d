"""A technician connects their own Google calendar: the consent screen of the local Google server,
the code exchanged by the worker, the refresh token stored encrypted, a withdrawn grant shown as
"reconnect"."""

import base64
import hashlib
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


def _signed_in_at_google(client, alice, personal) -> str:
    """Alice allows access at the consent screen: the address Google sends her browser back to."""
    client.force_login(alice.user)
    to_google = client.post(PAGE, {"connection": personal.pk})
    return back_to_us(consent(to_google["Location"]))


def test_a_token_answer_that_is_not_a_json_object_is_a_clear_refusal_shown_on_the_page(client, alice, personal, google):
    back = _signed_in_at_google(client, alice, personal)
    # RFC 6749 section 5.2: an error answer is a JSON object; a proxy may answer anything else.
    google.token_answers.append((400, ["not", "an", "object"]))

    page = client.get(back, follow=True).content.decode()

    assert not AgentCalendar.objects.exists()
    assert "did not finish" in page and "Google refused the sign-in (HTTP 400)" in page


def test_a_passing_fault_of_the_token_endpoint_is_retried_with_back_off(client, alice, personal, google, retries):
    from integrations.tasks import finish_google_sign_in

    back = urlsplit(_signed_in_at_google(client, alice, personal))
    code = parse_qs(back.query)["code"][0]

    verifier = client.session["google_sign_in_state"]["verifier"]
    google.token_answers.append((503, {"error": "internal_failure"}))

    finish_google_sign_in.apply(
        args=(alice.pk, personal.pk, code, f"http://testserver{back.path}", verifier), throw=False
    )

    assert len(retries) == 1 and retries[0] > 0
    assert [grant["grant_type"] for grant in google.token_requests][:2] == ["authorization_code"] * 2
    assert AgentCalendar.objects.get(agent=alice, connection=personal).calendar_id == ALICE
    assert "did not finish" not in client.get(PAGE).content.decode()


def test_a_refused_code_is_named_on_the_page_until_a_sign_in_succeeds(client, alice, personal, google):
    back = _signed_in_at_google(client, alice, personal)
    google.token_answers.append((400, {"error": "invalid_grant", "error_description": "Malformed auth code."}))

    refused = client.get(back, follow=True).content.decode()
    again = client.get(_signed_in_at_google(client, alice, personal), follow=True).content.decode()

    assert "did not finish" in refused and "invalid_grant" in refused
    assert "did not finish" not in again and f"Connected: <strong>{ALICE}</strong>" in again


def test_the_sign_in_sends_a_pkce_s256_challenge_and_its_verifier(client, alice, personal, google):
    client.force_login(alice.user)
    to_google = client.post(PAGE, {"connection": personal.pk})
    query = parse_qs(urlsplit(to_google["Location"]).query)

    client.get(back_to_us(consent(to_google["Location"])), follow=True)

    (grant,) = [grant for grant in google.token_requests if grant["grant_type"] == "authorization_code"]
    # RFC 7636 section 4.2: code_challenge = BASE64URL(SHA256(code_verifier)), no padding.
    digest = hashlib.sha256(grant["code_verifier"].encode("ascii")).digest()
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).decode().rstrip("=")]
    assert 43 <= len(grant["code_verifier"]) <= 128
    assert AgentCalendar.objects.get(agent=alice, connection=personal).has_secret


def test_the_connect_page_reads_only_the_newest_sign_in_of_each_connection(alice, personal):
    """Review 16: every sign-in leaves a log entry; the "Connect my Google calendar" page needs the
    newest of each connection only, so it reads one row per connection, however many the log holds."""
    from django.db.models.signals import post_init

    from integrations import selectors
    from integrations.models import SyncLogEntry
    from integrations.providers.base import ProviderError

    for n in range(30):
        services.record_google_sign_in_failure(alice, personal, ProviderError(f"Refused {n}"))
    newest = services.record_google_sign_in_failure(alice, personal, ProviderError("Refused at last"))
    built = []

    def count(sender, instance, **kwargs) -> None:
        built.append(instance)

    post_init.connect(count, sender=SyncLogEntry)
    try:
        found = selectors.last_google_sign_ins(alice, [personal])
    finally:
        post_init.disconnect(count, sender=SyncLogEntry)

    assert found == {personal.pk: newest}
    assert len(built) == 1
