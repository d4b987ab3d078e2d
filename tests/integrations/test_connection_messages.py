"""The connection test says why a server cannot be reached in one plain sentence, for every kind of
connection, through the real client libraries (caldav/niquests, exchangelib/requests, msal and
requests, google-api-python-client/google-auth) against real sockets (trial report F2)."""

import html
import io
import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import caldav
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.core.management.base import CommandError

from integrations import services
from integrations.models import Connection
from tests.integrations.conftest import USERS

pytestmark = pytest.mark.django_db

TENANT = "7d1c6a4e-2b3f-4c5d-8e9f-0a1b2c3d4e5f"


def _free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: the kernel refuses a connection (ECONNREFUSED)
    return port


class _NotFound(BaseHTTPRequestHandler):
    """A plain-HTTP server with nothing anywhere: 404 to every method."""

    def _answer(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PROPFIND = do_REPORT = do_OPTIONS = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def addresses():
    """Base URLs, one per cause: a closed port, a host that never resolves (RFC 6761 .invalid), TLS
    spoken to a plain-HTTP server, a server that accepts and never answers, and a server with
    nothing at the path."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    web = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    port = _free_port()
    yield {
        "refused": (f"http://127.0.0.1:{port}/", f"Nothing answers on port {port} of 127.0.0.1"),
        "dns": ("http://calendar.invalid/", "The host name calendar.invalid was not found (DNS)"),
        "tls": (f"https://127.0.0.1:{web.server_address[1]}/", "The secure connection to 127.0.0.1 failed"),
        "timeout": (f"http://127.0.0.1:{silent.getsockname()[1]}/", "127.0.0.1 did not answer in time"),
    }
    web.shutdown()
    silent.close()


def _service_account_key(token_uri: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "p",
            "private_key_id": "0123",
            "private_key": pem,
            "client_email": "helpdesk@p.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": token_uri,
        }
    )


def _connection(kind: str, base: str) -> Connection:
    https = base.replace("http://", "https://")
    made = {
        "caldav": dict(server_url=base, username="alice", options={"timeout": 1}),
        "ews": dict(
            server_url=base + "EWS/Exchange.asmx",
            username="svc-helpdesk@example.com",
            options={"version": "2016", "auth_type": "basic", "access_type": "impersonation", "timeout": 1},
        ),
        # msal takes only an https authority: the Graph connection always speaks TLS.
        "graph": dict(
            server_url=https + "v1.0",
            username="5b8e2f1a-6c4d-4e3b-9a7f-1d2c3b4a5e6f",
            options={"tenant_id": TENANT, "authority": https + TENANT, "timeout": 1},
        ),
        "google": dict(
            username="",
            options={
                "auth": "service_account",
                "api_endpoint": base + "calendar/v3/",
                "batch_uri": base + "batch/calendar/v3",
                "token_uri": base + "token",
                "timeout": 1,
            },
        ),
    }[kind]
    connection = Connection(name=f"{kind} test", kind=kind, **made)
    connection.set_secret(_service_account_key(base + "token") if kind == "google" else "pw")
    connection.options = {**connection.options, "test_mailbox": "alice@example.com"}
    connection.save()
    return connection


@pytest.mark.parametrize("cause", ["refused", "dns", "tls", "timeout"])
@pytest.mark.parametrize("kind", ["caldav", "ews", "graph", "google"])
def test_connection_test_says_why_in_one_plain_sentence(kind, cause, addresses):
    base, expected = addresses[cause]
    if kind == "graph" and cause == "tls":
        pass  # the Graph address is https already: TLS to the plain-HTTP server
    connection = _connection(kind, base)

    message = services.record_connection_test(connection)

    connection.refresh_from_db()
    assert connection.last_test_ok is False
    assert message.startswith(expected), message
    for python_text in ("object at 0x", "Errno", "ConnectionPool", "Error(", "Max retries", "Caused by"):
        assert python_text not in message, message
    assert message.count(". ") == 0 and message.endswith("."), message  # one sentence


def test_caldav_path_with_nothing_there_says_to_check_the_path(addresses):
    base, _ = addresses["tls"]
    connection = _connection("caldav", base.replace("https://", "http://") + "nope/dav/")

    message = services.record_connection_test(connection)

    assert message.startswith(f"Nothing at {connection.server_url}"), message
    assert "check the path in the server address" in message


def test_connection_page_has_a_test_button_that_queues_the_test_and_shows_the_result(
    admin_client, caldav_connection, django_capture_on_commit_callbacks
):
    page = admin_client.get(f"/admin/integrations/connection/{caldav_connection.pk}/change/").content.decode()
    assert 'id="test-connection"' in page and "not tested yet" in page

    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = admin_client.post(f"/admin/integrations/connection/{caldav_connection.pk}/test/")
    assert response.status_code == 302 and len(queued) == 1  # queued after commit, run by the worker

    page = admin_client.get(response["Location"]).content.decode()
    assert "OK (" in page and "Signed in as the connection&#x27;s account &#x27;helpdesk&#x27;" in page


def test_exchange_address_with_nothing_there_says_to_check_the_path(addresses):
    base, _ = addresses["tls"]
    connection = _connection("ews", base.replace("https://", "http://") + "nope/")

    message = services.record_connection_test(connection)

    assert message.startswith(f"Nothing at {connection.server_url}: no Exchange Web Services at this path"), message
    assert "headers" not in message and "Code: 404" not in message


# --- what was tested (trial: the message named a technician's mailbox for the connection's account) -----------


def _calendar_count(radicale, username: str, home: str | None = None) -> int:
    """The calendars the caldav library itself lists for `username` (its principal's, or those of `home`)."""
    client = caldav.DAVClient(url=radicale.url, username=username, password=USERS[username])
    if home is None:
        return len(client.principal().calendars())
    return len(caldav.CalendarSet(client=client, url=home).calendars())


def test_a_one_account_caldav_connection_test_names_the_account_and_no_technician(radicale, db):
    """A CalDAV connection without a calendar home reads its own account's calendars, whichever
    technician is tested: the message names that account, never the test mailbox."""
    client = caldav.DAVClient(url=radicale.url, username="alice", password=USERS["alice"])
    client.principal().make_calendar(name="Alice's own", cal_id=f"own-{uuid.uuid4().hex[:8]}")
    connection = services.add_connection(
        name="Alice own",
        kind="caldav",
        url=radicale.url,
        username="alice",
        secret=USERS["alice"],
        options={"timeout": 5, "test_mailbox": "bob@example.com"},
    )

    message = services.record_connection_test(connection)

    count = _calendar_count(radicale, "alice")
    assert message == (
        f"Signed in as the connection's account 'alice' on the CalDAV server {radicale.url}; the account holds "
        f"{count} calendar(s)."
    )
    assert "bob@example.com" not in message


def test_a_service_account_caldav_test_names_the_account_and_the_technicians_home_through_it(
    radicale, caldav_connection, alice_calendar
):
    message = services.record_connection_test(caldav_connection)

    home = f"{radicale.url.rstrip('/')}/alice/"
    count = _calendar_count(radicale, "helpdesk", home)
    assert message == (
        f"Signed in as the connection's account 'helpdesk' on the CalDAV server {radicale.url}; through it, "
        f"alice@example.com's calendar home {home} holds {count} calendar(s); Alice's linked calendar "
        f"{alice_calendar.calendar_name!r} is found."
    )


def test_add_connection_records_its_test_where_admin_shows_the_last_test(radicale, db, admin_client, monkeypatch):
    monkeypatch.setenv("CONNECTION_SECRET", USERS["helpdesk"])
    out = io.StringIO()

    call_command("add_connection", "Team", "--url", radicale.url, "--username", "helpdesk", stdout=out)

    connection = Connection.objects.get(name="Team")
    assert connection.last_test_ok is True and connection.last_test_at is not None
    assert connection.last_test_message == out.getvalue().splitlines()[-1]
    page = admin_client.get(f"/admin/integrations/connection/{connection.pk}/change/").content.decode()
    assert "OK (" in page and html.escape(connection.last_test_message) in page

    monkeypatch.setenv("CONNECTION_SECRET", "wrong")
    with pytest.raises(CommandError, match="refused the user name or password"):
        call_command("add_connection", "Team", "--url", radicale.url, "--username", "helpdesk", stdout=io.StringIO())
    connection.refresh_from_db()
    assert connection.last_test_ok is False and "refused the user name or password" in connection.last_test_message
    page = admin_client.get(f"/admin/integrations/connection/{connection.pk}/change/").content.decode()
    assert "Failed (" in page
