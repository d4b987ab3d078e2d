"""The technician's "to approve" page and badge, the sync health page, admin, secrets, commands."""

import html
import os
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from calendars import services as calendar_services
from calendars.models import CalendarSettings, SyncPolicy
from integrations.models import AgentCalendar, Connection, SyncLink, SyncLogEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting_link(alice_calendar, tomorrow_9):
    settings = CalendarSettings.load()
    settings.sync_policy = SyncPolicy.ASK
    settings.save()
    appointment = calendar_services.create_appointment(
        subject="Printer <b>swap</b>",
        start=tomorrow_9,
        end=tomorrow_9 + timedelta(hours=1),
        agents=[alice_calendar.agent],
    )
    return SyncLink.objects.get(appointment=appointment)


def test_to_approve_page_lists_waiting_appointments_escaped(client, waiting_link):
    client.force_login(waiting_link.agent_calendar.agent.user)

    page = client.get("/me/approvals/").content.decode()

    assert "Printer &lt;b&gt;swap&lt;/b&gt;" in page
    assert '<span class="badge">1</span>' in page


def test_declining_on_the_page_takes_it_off_the_list(client, waiting_link):
    client.force_login(waiting_link.agent_calendar.agent.user)

    client.post(f"/me/approvals/{waiting_link.pk}/", {"decision": "decline"})

    waiting_link.refresh_from_db()
    assert waiting_link.approval == SyncLink.Approval.DECLINED
    assert "Nothing waits for your approval" in client.get("/me/approvals/").content.decode()


def test_a_technician_cannot_decide_for_another(client, waiting_link, bob):
    client.force_login(bob.user)

    response = client.post(f"/me/approvals/{waiting_link.pk}/", {"decision": "approve"})

    assert response.status_code == 404
    waiting_link.refresh_from_db()
    assert waiting_link.approval == SyncLink.Approval.WAITING


def test_sync_health_page_shows_last_sync_error_and_pending(client, alice_calendar, tomorrow_9):
    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(last_error="The server answered 503")
    calendar_services.create_appointment(
        subject="Waits", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice_calendar.agent]
    )  # its push is queued on commit, which never comes in this test
    client.force_login(alice_calendar.agent.user)

    page = client.get("/me/sync/").content.decode()

    # The technician reads a short status; the error's detail is for admins (trial F6).
    assert "some entries could not be synced yet" in page and "503" not in page
    assert "<dt>Waiting to be sent</dt><dd>1</dd>" in page
    alice_calendar.agent.user.is_staff = True
    alice_calendar.agent.user.save()
    assert "The server answered 503" in client.get("/me/sync/").content.decode()


def test_secret_is_encrypted_at_rest_and_never_shown_in_admin(admin_client, caldav_connection):
    stored = Connection.objects.values_list("secret_encrypted", flat=True).get()
    assert "service-pw" not in stored
    assert caldav_connection.get_secret() == "service-pw"

    page = admin_client.get(f"/admin/integrations/connection/{caldav_connection.pk}/change/").content.decode()

    assert "service-pw" not in page and stored not in page


def test_test_connection_action_says_the_password_is_wrong(admin_client, caldav_connection):
    caldav_connection.set_secret("wrong")
    caldav_connection.save()

    response = admin_client.post(
        "/admin/integrations/connection/",
        {"action": "test_connection", "_selected_action": [caldav_connection.pk]},
        follow=True,
    )

    assert "refused the user name or password" in response.content.decode()


def test_test_connection_action_says_the_server_is_unreachable(admin_client, db):
    connection = Connection.objects.create(name="Gone", kind="caldav", server_url="http://127.0.0.1:9/", username="x")

    response = admin_client.post(
        "/admin/integrations/connection/",
        {"action": "test_connection", "_selected_action": [connection.pk]},
        follow=True,
    )

    # One plain sentence naming the port (trial F2), no library text.
    assert "Nothing answers on port 9 of 127.0.0.1: the connection was refused" in response.content.decode()


def test_sync_log_admin_filters_by_result(admin_client, alice_calendar):
    SyncLogEntry.objects.create(agent_calendar=alice_calendar, direction="in", operation="create", subject="Kept")
    SyncLogEntry.objects.create(
        agent_calendar=alice_calendar, direction="out", operation="update", result="error", subject="Broken"
    )

    page = admin_client.get("/admin/integrations/synclogentry/?result__exact=error").content.decode()

    assert "Broken" in page and "Kept" not in page


def test_sync_log_cannot_be_deleted_in_admin(admin_client, alice_calendar):
    """Trial fault 17: no "Delete selected" action, no delete page; only retention prunes the log."""
    entry = SyncLogEntry.objects.create(agent_calendar=alice_calendar, direction="in", operation="create", subject="K")

    listing = admin_client.get("/admin/integrations/synclogentry/").content.decode()
    response = admin_client.post(f"/admin/integrations/synclogentry/{entry.pk}/delete/", {"post": "yes"})
    bulk = admin_client.post(
        "/admin/integrations/synclogentry/",
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )

    assert "delete_selected" not in listing
    assert response.status_code == 403 and bulk.status_code in (200, 302)
    assert SyncLogEntry.objects.filter(pk=entry.pk).exists()


def test_onboarding_commands_connect_and_sync(radicale, alice, monkeypatch, capsys, tomorrow_9):
    from integrations.providers.caldav import CalDAVProvider
    from tests.integrations.conftest import USERS

    CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], calendar_home="/{user}/").make_calendar(
        alice.mailbox, "onboarding"
    )
    monkeypatch.setenv("CONNECTION_SECRET", USERS["helpdesk"])
    call_command(
        "add_connection", "Team CalDAV", "--url", radicale.url, "--username", "helpdesk", "--calendar-home", "/{user}/"
    )
    calendar_services.create_appointment(
        subject="Before connecting", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice]
    )
    call_command("connect_agent", "alice", "--connection", "Team CalDAV", "--calendar", "onboarding", "--import")
    call_command("sync_calendars", "--agent", "alice")

    output = capsys.readouterr().out
    assert "pushed 1" in output
    alice.refresh_from_db()
    assert alice.import_external
    assert "service-pw" not in str(Connection.objects.values_list("secret_encrypted", flat=True).get())


def test_connect_agent_says_when_the_calendar_does_not_exist(caldav_connection, alice):
    with pytest.raises(CommandError, match="is called 'missing': its calendars are"):
        call_command("connect_agent", "alice", "--connection", "Radicale", "--calendar", "missing")


def test_add_connection_with_a_wrong_password_fails_plainly(radicale, db, monkeypatch):
    monkeypatch.setenv("CONNECTION_SECRET", "wrong")
    with pytest.raises(CommandError, match="refused the user name or password"):
        call_command("add_connection", "Bad", "--url", radicale.url, "--username", "helpdesk")


def test_sync_calendars_fails_for_an_unknown_technician(db):
    with pytest.raises(CommandError, match="no connected calendar"):
        call_command("sync_calendars", "--agent", "nobody")


def test_beat_pulls_calendars_on_an_interval_admins_can_edit(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sync-calendars"]
    assert entry["task"] == "integrations.tasks.sync_all_calendars"
    assert os.environ.get("SYNC_PULL_SECONDS") or entry["schedule"] == 300


def test_test_connection_outcome_is_kept_on_the_connection(admin_client, caldav_connection):
    admin_client.post(
        "/admin/integrations/connection/",
        {"action": "test_connection", "_selected_action": [caldav_connection.pk]},
    )

    caldav_connection.refresh_from_db()
    assert caldav_connection.last_test_ok is True
    assert caldav_connection.last_test_at is not None
    page = admin_client.get("/admin/integrations/connection/").content.decode()
    assert "OK (" in page and html.escape(caldav_connection.last_test_message) in page


def test_calendar_added_in_admin_without_its_id_is_found_and_synced_by_the_worker(
    admin_client, alice, caldav_connection, radicale, tomorrow_9, django_capture_on_commit_callbacks
):
    from calendars import services as calendar_services
    from integrations.models import AgentCalendar
    from integrations.providers.caldav import CalDAVProvider
    from tests.integrations.conftest import USERS

    CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], calendar_home="/{user}/").make_calendar(
        alice.mailbox, "work"
    )
    calendar_services.create_appointment(
        subject="Patch round", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice]
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/integrations/agentcalendar/add/",
            {
                "agent": alice.pk,
                "connection": caldav_connection.pk,
                "mailbox": "",
                "calendar_id": "",
                "calendar_name": "work",
                "state": "active",
            },
        )

    assert response.status_code == 302, response.content.decode()[:3000]
    agent_calendar = AgentCalendar.objects.get(agent=alice)
    assert agent_calendar.calendar_id.rstrip("/").endswith("/work")
    assert agent_calendar.last_sync is not None
    assert agent_calendar.links.filter(appointment__subject="Patch round", pending=False).exists()


@pytest.mark.parametrize("path", ["/me/sync/", "/me/approvals/", "/me/google/", "/me/sync/microsoft365/callback/"])
def test_own_calendar_pages_tell_a_coordinator_without_technician_profile_why(client, coordinator, path):
    """Trial report: /me/sync/ answered 404 for a coordinator who is no technician. Each page about
    one's own calendar answers a page that says why there is nothing, and where to get it."""
    client.force_login(coordinator)
    response = client.get(path)
    assert response.status_code == 200
    text = response.content.decode()
    assert "You have no technician profile" in text and "An admin can make one" in text
    # A form posted all the same is refused with the same words, and nothing happens.
    refused = client.post("/me/approvals/1/", {"decision": "approve"})
    assert refused.status_code == 403 and "You have no technician profile" in refused.content.decode()
