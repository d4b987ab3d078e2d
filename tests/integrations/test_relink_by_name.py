"""Relinking a technician's calendar in admin (trial 5, 6, 11), against the real Radicale peer: the
calendars are read back with a separate CalDAV client (caldav), never through our connector.

- Changing only "Calendar name" relinks to the calendar of that name, found by the worker; a name no
  calendar has fails the sync naming the calendars there are (6).
- The helpdesk's entries are re-created once in the new calendar; with the tick box "Remove the
  helpdesk's entries from the old calendar" they are then deleted from the old one, the
  technician's own entries never; those own entries stay in the old calendar and are not copied (5).
- The log says "in the new calendar" for a relink ("on the new server" for a server move: 11).
"""

import uuid
from collections import Counter

import pytest

from calendars.models import Appointment
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.providers.base import ConnectionProblem
from integrations.providers.caldav import CalDAVProvider
from integrations.sync import engine
from tests.integrations.conftest import USERS, OtherClient
from tests.integrations.relink_scenarios import relink
from tests.integrations.test_server_move_keeps_entries import (  # noqa: F401
    EVERY_SUBJECT,
    _uids,
    alice_with_entries,
)

HELPDESK_MADE = EVERY_SUBJECT - {"Dentist"}  # "Dentist": alice's own entry, imported from her phone


def _other_calendar(radicale, agent_calendar: AgentCalendar) -> tuple[str, OtherClient]:
    """A second (empty) calendar of alice's on the same Radicale: its name and a phone's client on it."""
    name = f"other-{uuid.uuid4().hex[:8]}"
    made = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], calendar_home="/{user}/").make_calendar(
        agent_calendar.agent.mailbox, name
    )
    return name, OtherClient(radicale.url, "alice", USERS["alice"], made.calendar_id)


def _rename_in_admin(admin_client, agent_calendar: AgentCalendar, name: str, *, remove_old: bool) -> AgentCalendar:
    """The admin's change form with only "Calendar name" changed (the remote calendar left as it is)."""
    return relink(
        admin_client,
        agent_calendar,
        agent_calendar.calendar_id,
        calendar_name=name,
        shared_account=True,  # the service account, as on the fixture's link
        remove_old=remove_old,
    )


@pytest.fixture
def other_calendar(
    alice_with_entries,  # noqa: F811 (the fixture imported above)
    radicale,
) -> tuple[AgentCalendar, str, OtherClient]:
    """Alice's synced calendar, the name of a second (empty) calendar of hers, a phone on that one."""
    return (alice_with_entries, *_other_calendar(radicale, alice_with_entries))


def _helpdesk_markers(agent_calendar: AgentCalendar) -> Counter:
    links = SyncLink.objects.filter(agent_calendar=agent_calendar, origin=SyncLink.Origin.HELPDESK)
    return Counter(links.values_list("marker", flat=True))


def test_changing_only_the_calendar_name_relinks_to_the_named_calendar(admin_client, other_calendar, alice_phone):
    alice_calendar, name, new_phone = other_calendar
    old = alice_calendar.calendar_id
    before = Counter(_uids(alice_phone))
    markers = _helpdesk_markers(alice_calendar)
    assert len(markers) == 3

    relinked = _rename_in_admin(admin_client, alice_calendar, name, remove_old=False)

    # Found by the worker, never in the web request: the old calendar is the move's old place.
    assert relinked.calendar_id == "" and relinked.moved_from == old
    report = engine.sync_agent_calendar(relinked, pull=True)

    assert report.failed == 0, report.errors
    relinked.refresh_from_db()
    assert relinked.calendar_id == new_phone.calendar.url and relinked.moved_from == "" and relinked.relink == {}
    assert _uids(new_phone) == markers  # each of the helpdesk's entries once in the new calendar
    assert _uids(alice_phone) == before  # the tick box was off: the old calendar is left as it was
    assert set(Appointment.objects.values_list("subject", flat=True)) == HELPDESK_MADE
    log = SyncLogEntry.objects.filter(agent_calendar=alice_calendar)
    assert log.filter(operation="re-create").count() == 3
    assert all("re-created in the new calendar" in line.message for line in log.filter(operation="re-create"))
    summary = log.get(operation="first listing after move").message
    assert "0 linked entries found there, 3 not there and re-created in the new calendar, none deleted" in summary
    left = log.get(operation="left in old calendar")
    assert left.subject == "Dentist" and "not copied into the new calendar" in left.message
    assert not log.filter(operation="remove from old calendar").exists()

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert report.failed == 0 and report.pushed == 0 and report.pulled == 0, report.summary()
    assert _uids(new_phone) == markers
    assert set(Appointment.objects.values_list("subject", flat=True)) == HELPDESK_MADE


def test_the_tick_box_removes_only_the_helpdesks_entries_from_the_old_calendar(
    admin_client, other_calendar, alice_phone
):
    alice_calendar, name, new_phone = other_calendar
    own = Counter(_uids(alice_phone)) - _helpdesk_markers(alice_calendar)
    assert list(own) == ["phone-1"]
    markers = _helpdesk_markers(alice_calendar)

    relinked = _rename_in_admin(admin_client, alice_calendar, name, remove_old=True)
    report = engine.sync_agent_calendar(relinked, pull=True)

    assert report.failed == 0, report.errors
    assert _uids(new_phone) == markers
    assert _uids(alice_phone) == own  # only alice's own entry is left in the old calendar
    line = SyncLogEntry.objects.get(agent_calendar=alice_calendar, operation="remove from old calendar")
    assert line.result == SyncLogEntry.Result.OK
    assert line.message.startswith("Removed 3 of the helpdesk's entries from the old calendar")
    assert set(Appointment.objects.values_list("subject", flat=True)) == HELPDESK_MADE

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert report.failed == 0 and report.pushed == 0 and report.pulled == 0, report.summary()
    assert _uids(new_phone) == markers and _uids(alice_phone) == own


def test_the_tick_box_is_on_by_default(admin_client, alice_calendar):
    response = admin_client.get(f"/admin/integrations/agentcalendar/{alice_calendar.pk}/change/")

    field = response.context["adminform"].form["remove_old_entries"]
    assert field.label == "Remove the helpdesk's entries from the old calendar"
    assert field.value() is True


def test_a_calendar_name_that_does_not_exist_fails_the_sync_naming_the_calendars_there(
    admin_client,
    alice_with_entries,  # noqa: F811 (the fixture imported above)
    alice_phone,
):
    alice_calendar = alice_with_entries
    existing = alice_calendar.calendar_id.rstrip("/").rsplit("/", 1)[1]
    before = Counter(_uids(alice_phone))

    relinked = _rename_in_admin(admin_client, alice_calendar, "No such calendar", remove_old=True)
    with pytest.raises(ConnectionProblem) as refused:
        engine.sync_agent_calendar(relinked, pull=True)

    assert "No such calendar" in str(refused.value) and existing in str(refused.value)
    relinked.refresh_from_db()
    # The calendar's error says which name was not found (the whole list, which other tests' calendars
    # on the shared server make long, may pass the stored error's 2,000 characters).
    assert "is called 'No such calendar': its calendars are" in relinked.last_error
    assert relinked.moved_from  # still to be relinked
    assert set(Appointment.objects.values_list("subject", flat=True)) == EVERY_SUBJECT  # nothing lost
    assert _uids(alice_phone) == before  # nothing removed from the old calendar


def test_the_name_of_the_calendar_it_holds_typed_again_is_no_move_and_removes_nothing(
    admin_client,
    alice_with_entries,  # noqa: F811 (the fixture imported above)
    alice_phone,
):
    alice_calendar = alice_with_entries
    before = Counter(_uids(alice_phone))
    name = alice_calendar.calendar_id.rstrip("/").rsplit("/", 1)[1].upper()  # another spelling, same calendar

    relinked = _rename_in_admin(admin_client, alice_calendar, name, remove_old=True)
    report = engine.sync_agent_calendar(relinked, pull=True)

    assert report.failed == 0, report.errors
    assert _uids(alice_phone) == before  # every entry found where it is: nothing re-created, nothing removed
    assert set(Appointment.objects.values_list("subject", flat=True)) == EVERY_SUBJECT
    summary = SyncLogEntry.objects.get(agent_calendar=alice_calendar, operation="first listing after move").message
    assert "relinked to the calendar it held already: 4 linked entries found there, 0 not there" in summary
    assert "after the move from" not in summary
    assert not SyncLogEntry.objects.filter(operation__in=["re-create", "remove from old calendar"]).exists()
