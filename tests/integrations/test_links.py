"""One technician, one remote calendar (SPEC S3.9 "never a duplicate", S5 "private entries never
leak"), and a disconnect that says what happens (trial report F1, F5)."""

import html
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations import selectors, services
from integrations.models import AgentCalendar, Connection, SyncLink, SyncLogEntry
from integrations.providers.base import ConnectionProblem
from integrations.sync import engine
from tests.integrations.conftest import USERS, OtherClient

pytestmark = pytest.mark.django_db


def sync(agent_calendar, *, pull=True):
    agent_calendar.refresh_from_db()
    return engine.sync_agent_calendar(agent_calendar, pull=pull)


def make(agent, start, capture, subject="Server room visit"):
    with capture(execute=True):
        return calendar_services.create_appointment(
            subject=subject, start=start, end=start + timedelta(hours=1), agents=[agent]
        )


@pytest.fixture
def alice_own(radicale):
    """A per-user CalDAV connection: Alice's own account, her own calendars (no calendar home)."""
    return services.add_connection(
        name="Alice own",
        kind="caldav",
        url=radicale.url,
        username="alice",
        secret=USERS["alice"],
        options={"timeout": 5},
    )


def calendar_name(agent_calendar) -> str:
    return agent_calendar.calendar_id.rstrip("/").rsplit("/", 1)[-1]


# --- a second link to a calendar already linked -----------------------------------------------------------


def test_second_link_to_the_same_calendar_through_another_connection_is_stopped_before_pushing(
    alice_calendar, alice_phone, alice_own, tomorrow_9, django_capture_on_commit_callbacks
):
    """Trial F1: Alice linked through the team's connection and through her own account to the one
    Radicale calendar; the second link pushed every entry again."""
    alice = alice_calendar.agent
    make(alice, tomorrow_9, django_capture_on_commit_callbacks)
    assert len(alice_phone.entries()) == 1
    # As the admin form makes it: the remote calendar is found by the worker's first sync.
    second = AgentCalendar.objects.create(
        agent=alice, connection=alice_own, calendar_name=calendar_name(alice_calendar)
    )
    services.queue_existing_appointments(second, since=tomorrow_9 - timedelta(days=1))

    with pytest.raises(ConnectionProblem, match="already linked to Alice through Radicale"):
        sync(second)

    assert len(alice_phone.entries()) == 1  # read back with the caldav library: never pushed twice
    second.refresh_from_db()
    assert second.state == AgentCalendar.State.FAILING
    assert "This calendar is already linked to Alice through Radicale" in second.last_error
    assert second.calendar_id == ""  # not taken: the older link keeps the calendar
    assert not second.links.exclude(remote_id="").exists()
    sync(alice_calendar)  # the first link goes on as before
    assert len(alice_phone.entries()) == 1


def test_second_link_stops_before_importing_anything(alice_calendar, alice_phone, alice_own, tomorrow_9):
    alice = alice_calendar.agent
    alice.import_external = True
    alice.save()
    sync(alice_calendar)
    alice_phone.add("dentist-1", tomorrow_9, tomorrow_9 + timedelta(hours=1), "Dentist")
    second = AgentCalendar.objects.create(
        agent=alice, connection=alice_own, calendar_name=calendar_name(alice_calendar)
    )

    with pytest.raises(ConnectionProblem):
        sync(second)

    assert not Appointment.objects.exists()


def test_links_both_resolved_to_one_calendar_stop_the_newer_one(alice_calendar, alice_own, alice_phone):
    """Links made before this check (both with the calendar's address stored): the older keeps
    syncing. The address is written another way RFC 3986 6.2.2 makes equal (scheme in capitals, no
    trailing slash): still the same calendar."""
    scheme, rest = alice_calendar.calendar_id.split("://", 1)
    second = AgentCalendar.objects.create(
        agent=alice_calendar.agent, connection=alice_own, calendar_id=f"{scheme.upper()}://{rest.rstrip('/')}"
    )

    with pytest.raises(ConnectionProblem, match="already linked to Alice through Radicale"):
        sync(second)
    sync(alice_calendar)  # the older one is not stopped


def test_connect_agent_refuses_a_calendar_already_linked(alice_calendar, alice_own):
    with pytest.raises(ValidationError, match="already linked to Alice through Radicale"):
        services.connect_agent(alice_calendar.agent, connection=alice_own, calendar=calendar_name(alice_calendar))
    assert not AgentCalendar.objects.filter(connection=alice_own).exists()


def test_connect_agent_again_for_the_same_calendar_is_the_same_link(alice_calendar, caldav_connection):
    again = services.connect_agent(
        alice_calendar.agent, connection=caldav_connection, calendar=calendar_name(alice_calendar)
    )
    assert again.pk == alice_calendar.pk and AgentCalendar.objects.count() == 1


def test_admin_refuses_a_second_link_of_a_technician_to_the_same_connection(admin_client, alice_calendar):
    response = admin_client.post(
        "/admin/integrations/agentcalendar/add/",
        {
            "agent": alice_calendar.agent.pk,
            "connection": alice_calendar.connection.pk,
            "mailbox": "",
            "calendar_id": "",
            "calendar_name": "",
            "state": "active",
        },
    )

    assert response.status_code == 200
    text = response.content.decode()
    assert "Alice is already linked through Radicale" in text
    assert AgentCalendar.objects.count() == 1


def test_admin_refuses_a_calendar_address_already_linked(admin_client, alice_calendar, alice_own):
    response = admin_client.post(
        "/admin/integrations/agentcalendar/add/",
        {
            "agent": alice_calendar.agent.pk,
            "connection": alice_own.pk,
            "mailbox": "",
            "calendar_id": alice_calendar.calendar_id,
            "calendar_name": "",
            "state": "active",
        },
    )

    assert response.status_code == 200
    assert "This calendar is already linked to Alice through Radicale" in response.content.decode()


def test_linking_another_technician_to_a_calendar_held_says_who_holds_it_and_to_disconnect_first(
    admin_client, alice_calendar, alice_own, bob
):
    """Trial: linking Bob to the calendar Alice holds was refused with "this link is stopped ...
    Disconnect one of the two links", as if a link existed; nothing said whose link to disconnect."""
    name = calendar_name(alice_calendar)
    expected = (
        f"This calendar is already linked to Alice through Radicale (calendar {name!r}), and a calendar has one "
        "link: this link was not saved. To link it to Bob, first disconnect Alice's link (Agent calendars, tick the "
        'link, action "Disconnect"), then link again; or choose another calendar.'
    )

    with pytest.raises(ValidationError) as refused:
        services.connect_agent(bob, connection=alice_own, calendar=name, shared_account=True)
    assert refused.value.messages == [expected]

    page = admin_client.post(
        "/admin/integrations/agentcalendar/add/",
        {
            "agent": bob.pk,
            "connection": alice_own.pk,
            "mailbox": "",
            "calendar_id": alice_calendar.calendar_id,
            "calendar_name": "",
            "shared_account": "on",
            "state": "active",
        },
    )
    assert page.status_code == 200
    assert html.escape(expected) in page.content.decode()
    assert "stopped" not in page.content.decode()
    assert list(AgentCalendar.objects.values_list("agent__user__username", flat=True)) == ["alice"]


# --- a per-user account linked to another technician ---------------------------------------------------


def test_admin_refuses_another_persons_account_without_confirmation(admin_client, bob, alice_own):
    """Trial F5: Grace linked to "Alice own": Alice's private entries became Grace's appointments."""
    fields = {"agent": bob.pk, "connection": alice_own.pk, "mailbox": "", "calendar_id": "", "calendar_name": ""}

    refused = admin_client.post("/admin/integrations/agentcalendar/add/", {**fields, "state": "active"})

    assert refused.status_code == 200
    assert "signs in as alice, which is not Bob&#x27;s own account" in refused.content.decode()
    assert not AgentCalendar.objects.exists()
    confirmed = admin_client.post(
        "/admin/integrations/agentcalendar/add/", {**fields, "state": "active", "shared_account": "on"}
    )
    assert confirmed.status_code == 302
    assert AgentCalendar.objects.get().shared_account is True


def test_connect_agent_refuses_another_persons_account(bob, alice_own):
    with pytest.raises(ValidationError) as refused:
        services.connect_agent(bob, connection=alice_own)
    assert "signs in as alice, which is not Bob's own account" in refused.value.messages[0]


def test_sync_of_another_persons_account_imports_and_pushes_nothing(
    bob, alice_own, radicale, tomorrow_9, django_capture_on_commit_callbacks
):
    """A link made before this check (or by a script): stopped before any read or write."""
    from integrations.providers.caldav import CalDAVProvider

    found = CalDAVProvider(radicale.url, "alice", USERS["alice"]).make_calendar("alice@example.com", "private-f5")
    alice_phone = OtherClient(radicale.url, "alice", USERS["alice"], found.calendar_id)
    alice_phone.add("dentist-f5", tomorrow_9, tomorrow_9 + timedelta(hours=1), "Dentist")
    bob.import_external = True
    bob.save()
    link = AgentCalendar.objects.create(agent=bob, connection=alice_own, calendar_id=found.calendar_id)
    make(bob, tomorrow_9, django_capture_on_commit_callbacks, subject="Bob's job")

    with pytest.raises(ConnectionProblem, match="signs in as alice"):
        sync(link)

    assert [str(e.icalendar_component["summary"]) for e in alice_phone.entries()] == ["Dentist"]
    assert not Appointment.objects.filter(subject="Dentist").exists()


@pytest.mark.parametrize(
    ("kind", "username", "options"),
    [
        ("caldav", "helpdesk", {"calendar_home": "/{user}/"}),
        ("ews", "svc-helpdesk@example.com", {"access_type": "impersonation"}),
        ("ews", "svc-helpdesk@example.com", {"access_type": "delegate"}),
        ("graph", "client-id", {"tenant_id": "contoso.onmicrosoft.com"}),
        ("google", "", {"auth": "service_account"}),
        ("google", "client.apps.googleusercontent.com", {"auth": "oauth"}),
        ("caldav", "bob", {}),
        ("caldav", "bob@example.com", {}),
    ],
)
def test_service_accounts_and_own_accounts_need_no_confirmation(bob, kind, username, options):
    connection = Connection(name="x", kind=kind, username=username, options=options)
    assert selectors.account_not_theirs(bob, connection) is None


def test_a_mailbox_override_naming_someone_else_needs_confirmation(bob):
    connection = Connection(name="x", kind="ews", username="svc@example.com", options={})
    assert selectors.account_not_theirs(bob, connection, "alice@example.com") == "alice@example.com"


# --- disconnect ------------------------------------------------------------------------------------------


def test_admin_offers_no_plain_delete_of_a_link(admin_client, alice_calendar):
    response = admin_client.get(f"/admin/integrations/agentcalendar/{alice_calendar.pk}/delete/")
    assert response.status_code == 403


def test_disconnect_page_says_what_happens(
    admin_client, alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks)

    page = admin_client.post(
        "/admin/integrations/agentcalendar/",
        {"action": "disconnect", "_selected_action": [alice_calendar.pk]},
    ).content.decode()

    assert "stops its sync at once" in page and "Remove the entries the helpdesk put on the external" in page
    assert "<td>1</td>" in page  # one entry the helpdesk put there
    assert AgentCalendar.objects.filter(pk=alice_calendar.pk, state="active").exists()


def test_disconnect_removes_what_the_helpdesk_put_there_and_what_it_imported_and_keeps_the_log(
    admin_client, alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    alice = alice_calendar.agent
    alice.import_external = True
    alice.save()
    ours = make(alice, tomorrow_9, django_capture_on_commit_callbacks, subject="Patch round")
    alice_phone.add("dentist-1", tomorrow_9 + timedelta(hours=3), tomorrow_9 + timedelta(hours=4), "Dentist")
    sync(alice_calendar)
    assert Appointment.objects.filter(subject="Dentist", source=Appointment.Source.EXTERNAL).exists()
    logged = SyncLogEntry.objects.filter(agent_calendar=alice_calendar).count()
    assert logged >= 2

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/integrations/agentcalendar/",
            {
                "action": "disconnect",
                "_selected_action": [alice_calendar.pk],
                "confirm": "yes",
                "remove_pushed": "on",
                "remove_imported": "on",
            },
            follow=True,
        )

    assert "Disconnected 1 calendar(s)" in response.content.decode()
    assert not AgentCalendar.objects.filter(pk=alice_calendar.pk).exists()
    # The phone keeps the technician's own entry; the helpdesk's copy is gone from it.
    assert [str(e.icalendar_component["summary"]) for e in alice_phone.entries()] == ["Dentist"]
    assert not Appointment.objects.filter(subject="Dentist").exists()
    assert Appointment.objects.filter(pk=ours.pk).exists()  # the helpdesk's own appointment stays
    kept = SyncLogEntry.objects.filter(agent=alice, agent_calendar__isnull=True)
    assert kept.count() >= logged + 2
    summary = kept.filter(operation="disconnect").order_by("pk").first()
    assert "Disconnected by admin" in summary.message and "being removed" in summary.message
    assert summary.calendar_label == "Alice on Radicale"
    log_page = admin_client.get("/admin/integrations/synclogentry/").content.decode()
    assert "Alice on Radicale (disconnected)" in log_page


def test_disconnect_keeping_everything_leaves_entries_on_both_sides(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks, admin_user
):
    make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        services.disconnect_agent_calendar(alice_calendar, remove_pushed=False, remove_imported=False, by=admin_user)

    assert len(alice_phone.entries()) == 1
    assert not AgentCalendar.objects.exists() and not SyncLink.objects.exists()
    assert (
        "stay on it, no longer managed"
        in SyncLogEntry.objects.get(operation="disconnect", message__startswith="Disconnected by").message
    )


# --- what a technician reads about their link, what admins read (trial F6) --------------------------------


@pytest.fixture
def henk_failing(make_agent, caldav_connection):
    henk = make_agent("henk")
    henk.user.last_name = "Mulder"
    henk.user.save()
    detail = (
        "The CalDAV server at http://127.0.0.1:5235/ refused the user name or password for 'alice': check the "
        "connection's credentials."
    )
    link = AgentCalendar.objects.create(
        agent=henk,
        connection=caldav_connection,
        calendar_id="http://127.0.0.1:5235/henk/helpdesk/",
        state=AgentCalendar.State.FAILING,
        last_error=detail,
        pull_failures=2,
        next_pull_at=datetime(2099, 12, 1, 10, 15, tzinfo=UTC),
        last_pull_at=datetime(2026, 11, 30, 21, 38, 4, tzinfo=UTC),
    )
    SyncLogEntry.objects.create(
        agent_calendar=link, direction="in", operation="connect", result="error", message=detail
    )
    return link


def test_technician_sync_page_shows_a_short_status_and_no_other_account(client, henk_failing):
    client.force_login(henk_failing.agent.user)

    page = client.get("/me/sync/").content.decode()

    assert "your calendar link needs an administrator" in page
    assert "alice" not in page and "credentials" not in page
    assert 'id="entry-notes"' not in page  # a failed sign-in is not an entry that needs a look


def test_admin_reading_their_own_sync_page_sees_the_detail(client, henk_failing):
    henk_failing.agent.user.is_staff = True
    henk_failing.agent.user.save()
    client.force_login(henk_failing.agent.user)

    page = client.get("/me/sync/").content.decode()

    assert "for &#x27;alice&#x27;: check the connection&#x27;s credentials" in page


def test_sync_overview_names_technicians_and_formats_times_as_admin_does(admin_client, henk_failing):
    page = admin_client.get("/admin/integrations/agentcalendar/overview/").content.decode()

    assert "Henk Mulder</a>" in page and ">henk</a>" not in page
    # The site's zone (TIME_ZONE, Europe/Amsterdam), in admin's DATETIME_FORMAT "j M Y, H:i" (helpdesk/formats).
    back_off = datetime(2099, 12, 1, 10, 15, tzinfo=UTC).astimezone(ZoneInfo("Europe/Amsterdam"))
    last_pull = datetime(2026, 11, 30, 21, 38, 4, tzinfo=UTC).astimezone(ZoneInfo("Europe/Amsterdam"))
    assert f"{back_off.day} Dec 2099, {back_off:%H:%M}" in page  # 1 Dec 2099, 11:15
    assert f"{last_pull.day} Nov 2026, {last_pull:%H:%M}" in page  # 30 Nov 2026, 22:38
    assert "2026-11-30 22:38:04" not in page


def test_the_database_keeps_one_link_per_remote_calendar(alice_calendar, alice_own):
    """The key the worker and connect_agent set is unique: even a race cannot make two holders."""
    from django.db import IntegrityError, transaction

    assert alice_calendar.remote_key
    with pytest.raises(IntegrityError), transaction.atomic():
        AgentCalendar.objects.create(
            agent=alice_calendar.agent, connection=alice_own, remote_key=alice_calendar.remote_key
        )


def test_the_sync_log_stays_with_the_technician_however_the_calendar_row_goes(alice_calendar, alice):
    """Review: the log was kept only on deletes made in admin; a connection deleted in the shell (or
    any cascade) took the technician's log with it."""

    SyncLogEntry.objects.create(
        agent_calendar=alice_calendar, direction=SyncLogEntry.Direction.INBOUND, operation="create", subject="Visit"
    )
    label = str(alice_calendar)
    alice_calendar.connection.delete()

    (entry,) = SyncLogEntry.objects.filter(subject="Visit")
    assert (entry.agent_calendar_id, entry.agent_id, entry.calendar_label) == (None, alice.pk, label)
