"""A connection pointed at another server must never delete anything (trial: 16 of alice's entries lost).

The first listing at a new place (`AgentCalendar.moved_from`) never held our entries: a linked entry
missing there is re-created on the new server, never taken as deleted. These tests move alice's
calendar from one real Radicale to a second, empty one (and back), and to another address of the
same Radicale, and read both servers with a separate CalDAV client (caldav), not through our code.
"""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings, ConflictRule
from integrations import services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.providers.base import RemoteNotFound
from integrations.providers.caldav import CalDAVProvider
from integrations.sync import engine
from tests.integrations.conftest import USERS, OtherClient
from tests.integrations.importing import start_importing
from tests.peers.fault_proxy import FaultProxy
from tests.peers.radicale import start_radicale


@pytest.fixture(scope="module")
def second_radicale(tmp_path_factory):
    """Another Radicale with its own (empty) storage: the server an admin moves the connection to."""
    server = start_radicale(tmp_path_factory.mktemp("second-radicale"), USERS)
    yield server
    server.stop()


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _empty_twin(server, agent_calendar: AgentCalendar) -> OtherClient:
    """The technician's calendar, made empty on `server` at the path it has on the first server
    (the admin made it there before the move); a phone's client on it."""
    name = agent_calendar.calendar_id.rstrip("/").rsplit("/", 1)[1]
    made = CalDAVProvider(server.url, "helpdesk", USERS["helpdesk"], calendar_home="/{user}/").make_calendar(
        agent_calendar.agent.mailbox, name
    )
    assert _path(made.calendar_id) == _path(agent_calendar.calendar_id)
    return OtherClient(server.url, "alice", USERS["alice"], made.calendar_id)


def _move(connection, url: str) -> None:
    services.add_connection(name=connection.name, kind=connection.kind, url=url, username=connection.username)


def _uids(client: OtherClient) -> Counter:
    return Counter(str(entry.icalendar_component["uid"]) for entry in client.entries())


def _appointment(subject: str, start, agent) -> Appointment:
    return calendar_services.create_appointment(
        subject=subject, start=start, end=start + timedelta(hours=1), agents=[agent]
    )


@pytest.fixture
def alice_with_entries(alice_calendar, alice_phone, tomorrow_9):
    """Alice's calendar on the first Radicale, synced: three helpdesk appointments (one beyond the
    import window's end) and one entry of her own imported from her phone."""
    alice_calendar = start_importing(alice_calendar)
    alice_phone.add("phone-1", tomorrow_9 + timedelta(hours=5), tomorrow_9 + timedelta(hours=6), "Dentist")
    for number in range(2):
        _appointment(f"Visit {number}", tomorrow_9 + timedelta(hours=number), alice_calendar.agent)
    far = CalendarSettings.load().import_days_future + 30
    _appointment("Far visit", tomorrow_9 + timedelta(days=far), alice_calendar.agent)
    report = engine.sync_agent_calendar(alice_calendar, pull=True)
    assert report.failed == 0, report.errors
    assert len(alice_phone.entries()) == 4
    alice_calendar.refresh_from_db()
    return alice_calendar


def _subjects() -> set[str]:
    return set(Appointment.objects.values_list("subject", flat=True))


EVERY_SUBJECT = {"Visit 0", "Visit 1", "Far visit", "Dentist"}


def test_moving_a_connection_to_an_empty_server_pushes_every_entry_and_deletes_none(
    alice_with_entries, alice_phone, second_radicale
):
    alice_calendar = alice_with_entries
    markers = set(SyncLink.objects.filter(agent_calendar=alice_calendar).values_list("marker", flat=True))
    new_phone = _empty_twin(second_radicale, alice_calendar)

    _move(alice_calendar.connection, second_radicale.url)
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert report.failed == 0, report.errors
    assert _subjects() == EVERY_SUBJECT
    assert all(a.agents.filter(pk=alice_calendar.agent.pk).exists() for a in Appointment.objects.all())
    assert _uids(new_phone) == Counter(markers)  # each entry once on the new server
    assert len(alice_phone.entries()) == 4  # the old server is left as it was
    log = SyncLogEntry.objects.filter(agent_calendar=alice_calendar)
    assert log.filter(operation="re-create").count() == 4
    assert all(
        "re-created on the new server, not deleted" in line.message for line in log.filter(operation="re-create")
    )
    assert not log.filter(operation="delete", direction=SyncLogEntry.Direction.INBOUND).exists()
    summary = log.get(operation="first listing after move").message
    assert "0 linked entries found there, 4 not there and re-created on the new server, none deleted" in summary
    alice_calendar.refresh_from_db()
    assert alice_calendar.moved_from == ""
    assert all(
        remote_id.startswith(_path(alice_calendar.calendar_id))
        for remote_id in SyncLink.objects.values_list("remote_id", flat=True)
    )

    report = engine.sync_agent_calendar(alice_calendar, pull=True)  # the next pull: all in step

    assert report.failed == 0 and report.pushed == 0 and report.pulled == 0, report.summary()
    assert _uids(new_phone) == Counter(markers)


def test_entries_only_on_the_new_server_are_imported_as_on_a_first_sync(
    alice_with_entries, second_radicale, tomorrow_9
):
    alice_calendar = alice_with_entries
    new_phone = _empty_twin(second_radicale, alice_calendar)
    new_phone.add("only-there", tomorrow_9 + timedelta(hours=7), tomorrow_9 + timedelta(hours=8), "Gym")

    _move(alice_calendar.connection, second_radicale.url)
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert report.failed == 0, report.errors
    assert _subjects() == EVERY_SUBJECT | {"Gym"}
    assert sum(_uids(new_phone).values()) == 5 and max(_uids(new_phone).values()) == 1


def test_moving_back_finds_the_entries_again_without_duplicates(
    alice_with_entries, alice_phone, second_radicale, tomorrow_9
):
    alice_calendar = alice_with_entries
    connection = alice_calendar.connection
    old_url = connection.server_url
    new_phone = _empty_twin(second_radicale, alice_calendar)
    _move(connection, second_radicale.url)
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)
    _appointment("Made on the new server", tomorrow_9 + timedelta(hours=3), alice_calendar.agent)
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)
    assert sum(_uids(new_phone).values()) == 5

    _move(connection, old_url)
    before = SyncLogEntry.objects.filter(operation="re-create").count()
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert report.failed == 0, report.errors
    assert _subjects() == EVERY_SUBJECT | {"Made on the new server"}
    markers = SyncLink.objects.filter(agent_calendar=alice_calendar).values_list("marker", flat=True)
    assert _uids(alice_phone) == Counter(markers)  # the four found by path, the new one re-created
    recreated = SyncLogEntry.objects.filter(operation="re-create").order_by("-pk")
    assert recreated.count() - before == 1 and recreated[0].subject == "Made on the new server"
    summary = SyncLogEntry.objects.filter(operation="first listing after move").latest("pk").message
    assert "4 linked entries found there, 1 not there and re-created" in summary


def test_a_deletion_after_the_first_listing_on_the_new_server_is_taken(alice_with_entries, second_radicale):
    alice_calendar = alice_with_entries
    new_phone = _empty_twin(second_radicale, alice_calendar)
    _move(alice_calendar.connection, second_radicale.url)
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)
    visit = SyncLink.objects.get(appointment__subject="Visit 0")

    new_phone.delete(visit.marker)
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert report.failed == 0, report.errors
    assert not SyncLink.objects.filter(pk=visit.pk).exists()
    assert not Appointment.objects.filter(subject="Visit 0", agents=alice_calendar.agent).exists()
    assert SyncLogEntry.objects.filter(operation="delete", direction=SyncLogEntry.Direction.INBOUND).count() == 1
    assert len(new_phone.entries()) == 3  # not re-created


def test_a_push_before_the_first_listing_after_a_move_recreates_instead_of_deleting(
    alice_with_entries, second_radicale
):
    """The external calendar wins conflicts: a helpdesk change meeting an entry "gone" remotely would
    delete the appointment (planner rule 9); after a move, gone there is not deleted."""
    settings = CalendarSettings.load()
    settings.conflict_rule = ConflictRule.EXTERNAL_WINS
    settings.save()
    alice_calendar = alice_with_entries
    new_phone = _empty_twin(second_radicale, alice_calendar)
    _move(alice_calendar.connection, second_radicale.url)
    visit = Appointment.objects.get(subject="Visit 1")
    calendar_services.update_appointment(visit, subject="Visit 1, moved", by=None)

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=False)

    assert report.failed == 0, report.errors
    assert Appointment.objects.filter(subject="Visit 1, moved", agents=alice_calendar.agent).exists()
    summaries = [str(entry.icalendar_component["summary"]) for entry in new_phone.entries()]
    assert any("Visit 1, moved" in summary for summary in summaries)
    assert AgentCalendar.objects.get(pk=alice_calendar.pk).moved_from  # the first listing is still to come


def test_a_move_to_another_address_of_the_same_data_recreates_nothing(alice_with_entries, alice_phone, radicale):
    """Another host:port in front of the same storage (an alias, http to https): the entries are
    found at their moved paths, nothing is made twice, and deletions count again afterwards."""
    alice_calendar = alice_with_entries
    alias = FaultProxy(radicale.url)
    try:
        _move(alice_calendar.connection, alias.url)
        report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)
        assert report.failed == 0, report.errors
        assert not SyncLogEntry.objects.filter(operation="re-create").exists()
        assert sum(_uids(alice_phone).values()) == 4 and max(_uids(alice_phone).values()) == 1
        summary = SyncLogEntry.objects.get(operation="first listing after move").message
        assert "4 linked entries found there, 0 not there" in summary

        alice_phone.delete("phone-1")
        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)
    finally:
        alias.stop()

    assert _subjects() == EVERY_SUBJECT - {"Dentist"}


def test_a_calendar_missing_on_the_new_server_fails_naming_its_full_url(alice_with_entries, second_radicale):
    alice_calendar = alice_with_entries
    _move(alice_calendar.connection, second_radicale.url)
    moved = AgentCalendar.objects.get(pk=alice_calendar.pk)
    expected = second_radicale.url.rstrip("/") + _path(alice_calendar.calendar_id)
    assert moved.calendar_id == expected

    with pytest.raises(RemoteNotFound, match=f"there is no calendar at {expected} "):
        engine.sync_agent_calendar(moved, pull=True)

    moved.refresh_from_db()
    assert expected in moved.last_error
    assert moved.moved_from  # nothing listed yet: the guard stays
    assert _subjects() == EVERY_SUBJECT


def test_relinking_a_calendar_in_admin_marks_its_first_listing(admin_client, alice_with_entries, second_radicale):
    alice_calendar = alice_with_entries
    new_phone = _empty_twin(second_radicale, alice_calendar)
    other = services.add_connection(
        name="Second", kind="caldav", url=second_radicale.url, username="helpdesk", secret=USERS["helpdesk"]
    )
    form = {
        "agent": alice_calendar.agent.pk,
        "connection": other.pk,
        "mailbox": "",
        "calendar_id": new_phone.calendar.url,
        "calendar_name": "",
        "shared_account": "on",  # the service account, as on the first connection
        "state": alice_calendar.state,
    }

    response = admin_client.post(f"/admin/integrations/agentcalendar/{alice_calendar.pk}/change/", form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    relinked = AgentCalendar.objects.get(pk=alice_calendar.pk)
    assert relinked.moved_from == alice_calendar.calendar_id and relinked.sync_token == ""
    report = engine.sync_agent_calendar(relinked, pull=True)
    assert report.failed == 0, report.errors
    assert _subjects() == EVERY_SUBJECT
    assert SyncLogEntry.objects.filter(operation="re-create").count() == 4


def test_a_link_given_its_calendar_again_lists_it_as_after_a_move(alice_with_entries):
    """connect_agent on a link whose calendar was cleared while it kept entries: the calendar found
    may be another one, so its first listing re-creates what it lacks and deletes nothing; here it
    is the same calendar, so every entry is found and nothing is made twice."""
    alice_calendar = alice_with_entries
    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(calendar_id="", remote_key="")
    name = alice_calendar.calendar_id.rstrip("/").rsplit("/", 1)[1]

    relinked = services.connect_agent(
        alice_calendar.agent, connection=alice_calendar.connection, calendar=name, shared_account=True
    )

    assert relinked.pk == alice_calendar.pk and relinked.moved_from
    report = engine.sync_agent_calendar(relinked, pull=True)
    assert report.failed == 0, report.errors
    assert _subjects() == EVERY_SUBJECT
    assert not SyncLogEntry.objects.filter(operation="re-create").exists()
    assert (
        "4 linked entries found there, 0 not there"
        in SyncLogEntry.objects.get(operation="first listing after move").message
    )


def test_an_entry_the_new_server_refuses_to_read_is_pushed_again_and_the_move_ends(alice_with_entries, second_radicale):
    """The new server refuses one entry for good (403 on its member and its GET: an ACL): that is
    no deletion, and no reason to keep the move open for ever either (review F2: while open, every
    deletion there would be undone). It is taken as not there: its appointment stays, the move
    ends with the first listing, and its link waits to create the entry there."""
    alice_calendar = alice_with_entries
    new_phone = _empty_twin(second_radicale, alice_calendar)
    proxy = FaultProxy(second_radicale.url)
    try:
        visit = SyncLink.objects.get(appointment__subject="Visit 0")
        proxy.refuse(visit.remote_id, reads=True)
        _move(alice_calendar.connection, proxy.url)

        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

        assert _subjects() == EVERY_SUBJECT
        assert len(new_phone.entries()) == 3
        moved = AgentCalendar.objects.get(pk=alice_calendar.pk)
        assert moved.moved_from == ""
        summary = SyncLogEntry.objects.get(operation="first listing after move").message
        # Its create is refused too (the ACL covers its writes): three re-created, not four (review F7).
        assert "4 not there, 3 of them re-created on the new server and 1 not yet" in summary
        assert "could not be asked" not in summary
        assert SyncLogEntry.objects.filter(operation="re-create").count() == 3

        # Its link waits to create it there (no id of the old place kept), as a refused write does.
        visit.refresh_from_db()
        assert visit.remote_id == "" and visit.appointment.subject == "Visit 0"
    finally:
        proxy.stop()


def test_an_entry_the_new_server_holds_under_another_name_is_found_by_our_marker(
    alice_with_entries, alice_phone, second_radicale, django_capture_on_commit_callbacks
):
    """A migration tool copied one entry to the new server under a name of its own: found there by
    its UID (our marker), updated in place from then on, never created a second time."""
    alice_calendar = alice_with_entries
    new_phone = _empty_twin(second_radicale, alice_calendar)
    visit = SyncLink.objects.get(appointment__subject="Visit 0")
    second_radicale.write_entries(str(new_phone.calendar.url), {"copied.ics": alice_phone.by_uid(visit.marker).data})
    _move(alice_calendar.connection, second_radicale.url)

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert report.failed == 0, report.errors
    visit.refresh_from_db()
    assert visit.remote_id == _path(str(new_phone.calendar.url)) + "copied.ics"
    assert _uids(new_phone)[visit.marker] == 1 and len(new_phone.entries()) == 4
    assert SyncLogEntry.objects.filter(operation="re-create").count() == 3
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(visit.appointment, subject="Visit 0, later")
    assert str(new_phone.by_uid(visit.marker).icalendar_component["summary"]).startswith("Visit 0, later")
    assert _uids(new_phone)[visit.marker] == 1


def test_a_create_the_new_server_refuses_is_not_logged_as_re_created(alice_with_entries, second_radicale):
    """Review F7: the new server refuses every create (403 with need-privileges on each entry's
    path: an ACL; the calendar itself stays writable). No "re-create" line says an entry was
    re-created and the move's summary counts none re-created; once the server takes them, each
    entry's line is written once, by the sync that made it."""
    alice_calendar = alice_with_entries
    new_phone = _empty_twin(second_radicale, alice_calendar)
    proxy = FaultProxy(second_radicale.url)
    try:
        for remote_id in SyncLink.objects.values_list("remote_id", flat=True):
            proxy.refuse(remote_id)  # the path each create takes on the new server (same calendar path)
        _move(alice_calendar.connection, proxy.url)

        report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

        assert new_phone.entries() == [] and report.failed == 4, report.summary()
        assert _subjects() == EVERY_SUBJECT
        assert not SyncLogEntry.objects.filter(operation="re-create").exists()
        summary = SyncLogEntry.objects.get(operation="first listing after move").message
        assert "0 linked entries found there, 4 not there, 0 of them re-created on the new server" in summary

        proxy.refused.clear()  # the admin fixes the ACL; the links' back-off is over
        SyncLink.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)
    finally:
        proxy.stop()

    assert report.failed == 0, report.errors
    markers = SyncLink.objects.values_list("marker", flat=True)
    assert _uids(new_phone) == Counter(markers)
    lines = SyncLogEntry.objects.filter(operation="re-create")
    assert Counter(line.link_id for line in lines) == Counter(SyncLink.objects.values_list("pk", flat=True))
    assert all("re-created on the new server, not deleted" in line.message for line in lines)
