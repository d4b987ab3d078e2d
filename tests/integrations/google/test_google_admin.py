"""Setting up a Google connection: the admin form, "test connection", the add_connection command and
a technician's own sign-in."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from integrations import services
from integrations.models import AgentCalendar, Connection
from integrations.providers.base import ConnectionProblem
from tests.peers.google import CALENDAR_SCOPE

from .conftest import ALICE, CLIENT_ID, SERVICE_EMAIL

pytestmark = pytest.mark.django_db

ADD = "/admin/integrations/connection/add/"


def google_form(google, key: str, **fields) -> dict:
    return {
        "name": "Google",
        "kind": "google",
        "server_url": "",
        "username": "",
        "secret": "",
        "options": "{}",
        "is_active": "on",
        "ews_version": "2016",
        "ews_auth_type": "ntlm",
        "ews_access_type": "impersonation",
        "google_auth": "service_account",
        "google_key": key,
        "google_api_endpoint": google.api_endpoint,
        "google_batch_uri": google.batch_uri,
        "google_token_uri": google.token_uri,
    } | fields


def test_google_form_stores_the_key_encrypted_and_never_shows_it(admin_client, google, service_account_json):
    response = admin_client.post(ADD, google_form(google, service_account_json))

    assert response.status_code == 302, response.content.decode()
    connection = Connection.objects.get()
    assert json.loads(connection.get_secret())["client_email"] == SERVICE_EMAIL
    assert "PRIVATE KEY" not in connection.secret_encrypted
    assert connection.options == {
        "auth": "service_account",
        "api_endpoint": google.api_endpoint,
        "batch_uri": google.batch_uri,
        "token_uri": google.token_uri,
    }
    page = admin_client.get(f"/admin/integrations/connection/{connection.pk}/change/").content.decode()
    assert "PRIVATE KEY" not in page and SERVICE_EMAIL not in page
    assert "connection-kind-google" in page


def test_google_form_keeps_the_stored_key_when_left_empty(admin_client, google, service_account_json):
    admin_client.post(ADD, google_form(google, service_account_json))
    connection = Connection.objects.get()

    response = admin_client.post(f"/admin/integrations/connection/{connection.pk}/change/", google_form(google, ""))

    assert response.status_code == 302, response.content.decode()
    connection.refresh_from_db()
    assert connection.get_secret() == service_account_json


@pytest.mark.parametrize(
    "key, message",
    [
        ("not json at all", "This is not JSON"),
        ('{"type": "service_account", "client_email": "x@y"}', "lacks private_key, client_id"),
        ("", "Enter the service account&#x27;s JSON key"),
    ],
)
def test_google_form_refuses_a_key_that_cannot_work(admin_client, google, key, message):
    response = admin_client.post(ADD, google_form(google, key))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Connection.objects.exists()


def test_connection_refuses_bad_google_options(db, service_account_json):
    with pytest.raises(ValidationError, match="api endpoint must be an http"):
        services.add_connection(
            name="G", kind="google", url="", secret=service_account_json, options={"api_endpoint": "ftp://x"}
        )
    with pytest.raises(ValidationError, match="OAuth client id"):
        services.add_connection(name="G", kind="google", url="", secret="s", options={"auth": "oauth"})


def _test_action(admin_client, connection) -> str:
    response = admin_client.post(
        "/admin/integrations/connection/",
        {"action": "test_connection", "_selected_action": [connection.pk]},
        follow=True,
    )
    return response.content.decode()


def test_test_connection_opens_a_technicians_calendar_through_delegation(admin_client, alice_google):
    page = _test_action(admin_client, alice_google.connection)

    assert (
        f"Signed in as the connection&#x27;s service account {SERVICE_EMAIL}; through domain-wide delegation, "
        f"{ALICE}&#x27;s calendar {ALICE} opens as {ALICE}."
    ) in page


def test_test_connection_names_the_missing_delegation_and_the_client_id(admin_client, alice_google, google):
    google.grant_delegation(CLIENT_ID, [])

    page = _test_action(admin_client, alice_google.connection)

    assert "domain-wide delegation is not granted" in page and CLIENT_ID in page


def test_add_connection_command_sets_up_google_with_a_key_file(google, alice, tmp_path, capsys, service_account_json):
    key_file = tmp_path / "key.json"
    key_file.write_text(service_account_json)

    call_command(
        "add_connection",
        "Google",
        "--kind=google",
        f"--service-account-file={key_file}",
        f"--api-endpoint={google.api_endpoint}",
        f"--batch-uri={google.batch_uri}",
        f"--token-uri={google.token_uri}",
        f"--test-mailbox={ALICE}",
    )

    connection = Connection.objects.get()
    assert connection.options["auth"] == "service_account" and connection.options["test_mailbox"] == ALICE
    assert connection.get_secret() == service_account_json
    out = capsys.readouterr().out
    assert f"{ALICE}'s calendar" in out and "PRIVATE KEY" not in out


def test_add_connection_refuses_google_options_for_caldav(db):
    with pytest.raises(CommandError, match="only apply to --kind google"):
        call_command("add_connection", "Nextcloud", "--url=https://cloud.example.com/", "--token-uri=https://t/")


def test_a_technician_connects_their_own_google_calendar_and_syncs(google, alice, monkeypatch):
    google.add_oauth_client("client-1.apps.googleusercontent.com", "client-secret")
    monkeypatch.setenv("CONNECTION_SECRET", "client-secret")
    call_command(
        "add_connection",
        "Google (personal)",
        "--kind=google",
        "--oauth-client-id=client-1.apps.googleusercontent.com",
        f"--api-endpoint={google.api_endpoint}",
        f"--batch-uri={google.batch_uri}",
        f"--token-uri={google.token_uri}",
        "--no-test",
    )
    connection = Connection.objects.get()
    token = google.issue_refresh_token("client-1.apps.googleusercontent.com", ALICE, [CALENDAR_SCOPE])

    agent_calendar = services.connect_own_google_calendar(alice, connection=connection, refresh_token=token)

    assert agent_calendar.calendar_id == ALICE
    assert agent_calendar.get_secret() == token and token not in agent_calendar.secret_encrypted
    google.revoke(token)
    with pytest.raises(ConnectionProblem, match="reconnect"):
        services.test_connection(connection, ALICE)


def test_a_refused_sign_in_leaves_no_calendar_behind(google, alice):
    google.add_oauth_client("client-1.apps.googleusercontent.com", "client-secret")
    connection = services.add_connection(
        name="Personal",
        kind="google",
        url="",
        username="client-1.apps.googleusercontent.com",
        secret="client-secret",
        options={"auth": "oauth", "api_endpoint": google.api_endpoint, "token_uri": google.token_uri},
    )

    with pytest.raises(ConnectionProblem):
        services.connect_own_google_calendar(alice, connection=connection, refresh_token="1//forged")

    assert not AgentCalendar.objects.exists()
