"""Trial F1: a connection's new server address takes effect for every linked calendar.

Each CalDAV link keeps the absolute calendar URL found at link time; a server move (new host, port,
scheme or path prefix) moves those URLs onto the new address, so the sync and "Test connection"
reach the same server, and the admin and the sync log say what happened.
"""

import socket
from datetime import timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations import services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.providers.base import TransientError
from integrations.sync import engine
from tests.integrations.conftest import USERS
from tests.integrations.importing import start_importing
from tests.peers.fault_proxy import FaultProxy


@pytest.fixture
def new_address(radicale):
    """The same Radicale behind another port: what a server move looks like to the helpdesk."""
    proxy = FaultProxy(radicale.url)
    yield proxy
    proxy.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _admin_form(connection, server_url: str) -> dict:
    return {
        "name": connection.name,
        "kind": connection.kind,
        "server_url": server_url,
        "username": connection.username,
        "secret": "",
        "is_active": "on",
        "options": '{"calendar_home": "/{user}/", "timeout": 5}',
    }


NEXTCLOUD = "https://h/remote.php/dav/"  # Nextcloud's DAV root; discovery also works from "/" (RFC 6764)
NEXTCLOUD_CALENDAR = NEXTCLOUD + "calendars/alice/work/"


@pytest.mark.parametrize(
    ("url", "old", "new", "expected"),
    [
        # RFC 3986 6.2.3: the scheme's default port and the host's case are not a move.
        (
            "http://Dav.example.com:80/alice/w/",
            "http://dav.example.com/",
            "https://dav2.example.com/",
            "https://dav2.example.com/alice/w/",
        ),
        ("http://a:5232/alice/w/", "http://a:5232/", "https://b/radicale/", "https://b/radicale/alice/w/"),
        ("http://a/radicale/alice/w/", "http://a/radicale/", "http://a:8080/", "http://a:8080/alice/w/"),
        ("https://a/dav/cal/alice/w/", "https://a/dav/", "https://b/caldav/", "https://b/caldav/cal/alice/w/"),
        # The new address names the user's own path on the new server (its calendar home or
        # principal): the user's segment is not repeated; both shapes of the new address agree.
        ("http://a:5232/alice/w/", "http://a:5232/", "https://b/dav/alice/", "https://b/dav/alice/w/"),
        ("http://a:5232/alice/w/", "http://a:5232/", "https://b/dav/", "https://b/dav/alice/w/"),
        ("http://a:5232/alice/w/", "http://a:5232/", "https://b/alice/", "https://b/alice/w/"),
        ("http://a/r/alice/w/", "http://a/r/", "https://b/dav/alice/", "https://b/dav/alice/w/"),
        # RFC 6764 5 / RFC 4791 6.2.1: on the same server (scheme, host, port) the configured address
        # is only where discovery starts, and calendars are found from the principal: the URLs the
        # server gave stay, whatever path prefix the new address has (a sibling prefix too).
        ("https://a/dav/cal/alice/w/", "https://a/dav/", "https://a/caldav/", "https://a/dav/cal/alice/w/"),
        ("https://a/dav/cal/alice/w/", "https://a/dav/", "https://a:443/", "https://a/dav/cal/alice/w/"),
        # A calendar outside the old address's path prefix keeps its path on the new host.
        (
            "https://a/calendars/alice/w/",
            "https://a/principals/",
            "https://b/principals/",
            "https://b/calendars/alice/w/",
        ),
        # review8 F4: the same server at a more or less specific address (a principal URL, the root
        # where discovery starts, RFC 6764) is no move: calendars are found from the principal
        # (RFC 4791 5.2), the stored URLs still name them.
        ("http://a:5232/alice/w/", "http://a:5232/", "http://a:5232/alice/", "http://a:5232/alice/w/"),
        ("http://a:5232/alice/w/", "http://a:5232/alice/", "http://A:5232/", "http://a:5232/alice/w/"),
        (NEXTCLOUD_CALENDAR, NEXTCLOUD, "https://h/", NEXTCLOUD_CALENDAR),
        (NEXTCLOUD_CALENDAR, NEXTCLOUD, NEXTCLOUD + "principals/users/alice/", NEXTCLOUD_CALENDAR),
        # Another host than the old address (iCloud's pNN-caldav): not placed.
        ("https://p42-caldav.icloud.com/1/calendars/w/", "https://caldav.icloud.com/", "https://x.example/", None),
    ],
)
def test_calendar_urls_move_with_the_server_address(url, old, new, expected):
    assert services.moved_calendar_url(url, old, new) == expected


def test_a_server_moved_in_admin_is_where_the_sync_reads_and_writes(
    admin_client, alice_calendar, alice_phone, new_address, tomorrow_9
):
    connection = alice_calendar.connection
    alice_calendar = start_importing(alice_calendar)
    alice_phone.add("moved-1", tomorrow_9, tomorrow_9 + timedelta(hours=1), "Before the move")
    engine.sync_agent_calendar(alice_calendar, pull=True)
    link = SyncLink.objects.get(agent_calendar=alice_calendar)
    old_remote_id = link.remote_id

    response = admin_client.post(
        f"/admin/integrations/connection/{connection.pk}/change/", _admin_form(connection, new_address.url), follow=True
    )

    page = response.content.decode()
    assert "1 linked calendar(s) now sync with " + new_address.url in page
    alice_calendar.refresh_from_db()
    assert alice_calendar.calendar_id.startswith(new_address.url)
    assert alice_calendar.sync_token == ""
    link.refresh_from_db()
    assert link.remote_id == old_remote_id  # same path prefix: the entry keeps its path
    alice_phone.add("moved-2", tomorrow_9 + timedelta(hours=2), tomorrow_9 + timedelta(hours=3), "After the move")
    new_address.reset_counts()

    report = engine.sync_agent_calendar(alice_calendar, pull=True)

    assert report.failed == 0, report.errors
    assert new_address.method_counts()["REPORT"] >= 1  # the listing went to the new address
    assert set(Appointment.objects.values_list("subject", flat=True)) == {"Before the move", "After the move"}
    assert SyncLink.objects.filter(agent_calendar=alice_calendar).count() == 2  # nothing imported twice
    line = SyncLogEntry.objects.get(agent_calendar=alice_calendar, operation="server moved")
    assert new_address.url in line.message and line.result == SyncLogEntry.Result.OK


def test_a_sync_after_a_move_to_a_dead_address_fails_naming_the_new_address(alice_calendar, radicale):
    """The trial's steps: port 5399 has nothing; the sync must not report success from the old server."""
    port = _free_port()
    services.add_connection(
        name="Radicale",
        kind="caldav",
        url=f"http://127.0.0.1:{port}/",
        username="helpdesk",
        secret=USERS["helpdesk"],
    )

    # A transient failure is raised for the task to retry; its message names the new address.
    with pytest.raises(TransientError, match=f"Nothing answers on port {port} of 127.0.0.1"):
        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)


def test_a_calendar_on_another_host_is_left_and_the_admin_is_told(admin_client, alice_calendar, new_address):
    connection = alice_calendar.connection
    elsewhere = "http://calendars.example.test/alice/work/"
    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(calendar_id=elsewhere)

    response = admin_client.post(
        f"/admin/integrations/connection/{connection.pk}/change/", _admin_form(connection, new_address.url), follow=True
    )

    assert "1 linked calendar(s) are not on the old address" in response.content.decode()
    alice_calendar.refresh_from_db()
    assert alice_calendar.calendar_id == elsewhere
    line = SyncLogEntry.objects.get(agent_calendar=alice_calendar, operation="server moved")
    assert line.result == SyncLogEntry.Result.ERROR and "Disconnect it and link it again" in line.message


def test_a_new_address_on_the_same_server_keeps_every_calendar_where_it_is(
    admin_client, alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """review8 F4: the admin pastes the technician's principal URL on the same Radicale (a normal
    thing to paste: discovery works from it, RFC 6764). The calendar URL used to be rebased onto a
    path that does not exist ("/alice/work/" to "/alice/alice/work/") and the next sync failed with
    RemoteNotFound; now every stored URL and entry path stays, with its sync token, and the sync
    goes on. Setting the root back keeps them too."""
    connection = alice_calendar.connection
    alice_calendar = start_importing(alice_calendar)
    alice_phone.add("kept-1", tomorrow_9, tomorrow_9 + timedelta(hours=1), "Before the new address")
    engine.sync_agent_calendar(alice_calendar, pull=True)
    alice_calendar.refresh_from_db()
    before = (alice_calendar.calendar_id, alice_calendar.sync_token)
    remote_ids = set(SyncLink.objects.values_list("remote_id", flat=True))
    root = connection.server_url
    principal = root.rstrip("/") + "/alice/"

    response = admin_client.post(
        f"/admin/integrations/connection/{connection.pk}/change/", _admin_form(connection, principal), follow=True
    )

    assert "1 linked calendar(s) stay where they are" in response.content.decode()
    alice_calendar.refresh_from_db()
    assert (alice_calendar.calendar_id, alice_calendar.sync_token) == before
    assert set(SyncLink.objects.values_list("remote_id", flat=True)) == remote_ids
    alice_phone.add("kept-2", tomorrow_9 + timedelta(hours=2), tomorrow_9 + timedelta(hours=3), "After it")
    report = engine.sync_agent_calendar(alice_calendar, pull=True)
    assert report.failed == 0, report.errors
    assert set(Appointment.objects.values_list("subject", flat=True)) == {"Before the new address", "After it"}
    line = SyncLogEntry.objects.get(agent_calendar=alice_calendar, operation="server moved")
    assert line.result == SyncLogEntry.Result.OK and "still read at " + before[0] in line.message
    with django_capture_on_commit_callbacks(execute=True):  # a write goes out to the same calendar
        calendar_services.create_appointment(
            subject="Pushed",
            start=tomorrow_9 + timedelta(hours=4),
            end=tomorrow_9 + timedelta(hours=5),
            agents=[alice_calendar.agent],
        )
    assert "Pushed" in [str(entry.icalendar_component["summary"]) for entry in alice_phone.entries()]
    remote_ids = set(SyncLink.objects.values_list("remote_id", flat=True))

    admin_client.post(
        f"/admin/integrations/connection/{connection.pk}/change/", _admin_form(connection, root), follow=True
    )

    assert AgentCalendar.objects.get(pk=alice_calendar.pk).calendar_id == before[0]
    assert set(SyncLink.objects.values_list("remote_id", flat=True)) == remote_ids


def test_a_new_server_address_saved_in_admin_is_tested_by_the_worker_after_the_save(
    admin_client, alice_calendar, new_address, django_capture_on_commit_callbacks
):
    """The old "Last test" was of the old address: admin says the new one is being tested, the test
    is queued for the worker once the save is committed (no call from the web request), and its
    outcome is what "Last test" shows afterwards."""
    connection = alice_calendar.connection
    new_address.reset_counts()

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            f"/admin/integrations/connection/{connection.pk}/change/",
            _admin_form(connection, new_address.url),
            follow=True,
        )

    page = response.content.decode()
    assert f"Testing the new address {new_address.url} in the background" in page
    assert new_address.request_total == 0  # nothing was asked of the new address in the request
    connection.refresh_from_db()
    assert connection.last_test_at is None and connection.last_test_message == (
        f"queued: {new_address.url} is being tested"
    )

    for callback in callbacks:
        callback()

    connection.refresh_from_db()
    assert connection.last_test_ok is True and connection.last_test_at is not None
    assert new_address.request_total > 0
    page = admin_client.get(f"/admin/integrations/connection/{connection.pk}/change/").content.decode()
    assert "OK (" in page


def test_a_new_server_address_that_does_not_answer_shows_the_failed_test(
    admin_client, alice_calendar, django_capture_on_commit_callbacks
):
    connection = alice_calendar.connection
    port = _free_port()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            f"/admin/integrations/connection/{connection.pk}/change/",
            _admin_form(connection, f"http://127.0.0.1:{port}/"),
        )

    page = admin_client.get(f"/admin/integrations/connection/{connection.pk}/change/").content.decode()
    assert "Failed (" in page and f"Nothing answers on port {port} of 127.0.0.1" in page
