import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.providers.base import Window
from tests.integrations.importing import start_importing
from tests.peers.google import CALENDAR_SCOPE, GoogleCalendarServer

ALICE = "alice@example.com"
BOB = "bob@example.com"
SERVICE_EMAIL = "helpdesk@helpdesk-project.iam.gserviceaccount.com"
CLIENT_ID = "104857600000000000001"


@pytest.fixture(scope="session")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def google(rsa_key):
    """A local Google Calendar with alice's and bob's calendars; the helpdesk's service account
    has domain-wide delegation for the calendar scope."""
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with GoogleCalendarServer() as server:
        server.add_user(ALICE, time_zone="Europe/Amsterdam")
        server.add_user(BOB)
        server.add_service_account(SERVICE_EMAIL, CLIENT_ID, public)
        server.grant_delegation(CLIENT_ID, [CALENDAR_SCOPE])
        yield server


@pytest.fixture
def service_account_info(google, rsa_key) -> dict:
    """The JSON key file the Cloud console gives for the service account."""
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "helpdesk-project",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": SERVICE_EMAIL,
        "client_id": CLIENT_ID,
        "token_uri": "https://oauth2.googleapis.com/token",
    }


@pytest.fixture
def service_account_json(service_account_info) -> str:
    return json.dumps(service_account_info)


@pytest.fixture
def window() -> Window:
    now = datetime.now(UTC)
    return Window(start=now - timedelta(days=30), end=now + timedelta(days=180))


# --- the sync engine on a Google connection -----------------------------------------------------------


@pytest.fixture
def google_connection(db, google, service_account_json):
    from integrations import services

    return services.add_connection(
        name="Google",
        kind="google",
        url="",
        secret=service_account_json,
        options={
            "auth": "service_account",
            "api_endpoint": google.api_endpoint,
            "batch_uri": google.batch_uri,
            "token_uri": google.token_uri,
            "timeout": 5,
        },
    )


@pytest.fixture
def alice_google(alice, google_connection):
    """Alice's Google calendar, reached through the service account's domain-wide delegation."""
    from integrations import services

    return services.connect_agent(alice, connection=google_connection)


@pytest.fixture
def importing_google(alice_google):
    """Alice imports entries made on her phone; the first pull has taken the sync token."""
    return start_importing(alice_google)
