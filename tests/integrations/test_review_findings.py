"""Review findings on the integrate branch, shown against the real Radicale peer (read back with a
separate CalDAV client, not through our code)."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from calendars.models import Appointment
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.providers.caldav import CalDAVProvider
from integrations.sync import engine
from tests.integrations.conftest import USERS, OtherClient
from tests.integrations.test_server_move_keeps_entries import (  # noqa: F401
    EVERY_SUBJECT,
    _empty_twin,
    _move,
    _uids,
    alice_with_entries,
    second_radicale,
)
from tests.peers.fault_proxy import FaultProxy


def _relink_in_admin(admin_client, alice_calendar, calendar_url: str) -> None:
    """The admin gives alice's AgentCalendar another calendar URL on the same connection."""
    form = {
        "agent": alice_calendar.agent.pk,
        "connection": alice_calendar.connection.pk,
        "mailbox": "",
        "calendar_id": calendar_url,
        "calendar_name": "",
        "shared_account": "on",
        "state": alice_calendar.state,
    }
    response = admin_client.post(f"/admin/integrations/agentcalendar/{alice_calendar.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors


def test_relinking_to_another_calendar_of_the_same_server_moves_the_entries_and_deletes_none(
    admin_client,
    alice_with_entries,  # noqa: F811 (the fixture imported above)
    radicale,
):
    """Admin relinks alice to another (empty) calendar on the SAME server: her entries must land in
    that calendar, and the next full listing of it must delete no appointment."""
    alice_calendar = alice_with_entries
    made = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], calendar_home="/{user}/").make_calendar(
        alice_calendar.agent.mailbox, "other-work"
    )
    new_phone = OtherClient(radicale.url, "alice", USERS["alice"], made.calendar_id)
    _relink_in_admin(admin_client, alice_calendar, made.calendar_id)
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)
    # The daily full listing of the new calendar (SYNC_FULL_RESYNC_HOURS) comes round.
    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(full_sync_at=timezone.now() - timedelta(days=2))
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    # Alice's own "Dentist" belongs to the old calendar: left there, not copied (trial 5).
    assert set(Appointment.objects.values_list("subject", flat=True)) == EVERY_SUBJECT - {"Dentist"}
    still_old = [
        link.remote_id
        for link in SyncLink.objects.all()
        if not link.remote_id.startswith("/" + made.calendar_id.split("/", 3)[3])
    ]
    assert still_old == []
    assert len(new_phone.entries()) == 3


def test_relinked_calendar_of_the_same_server_that_holds_an_entry_loses_no_appointment_at_its_daily_listing(
    admin_client,
    alice_with_entries,  # noqa: F811 (the fixture imported above)
    radicale,
    tomorrow_9,
):
    """As above, but the calendar relinked to already holds one entry of alice's: the first listing
    'finds' her linked entries in the OLD calendar (GET of their stored absolute paths), ends the
    move, and the next full listing of the new calendar (not empty) takes them as deleted."""
    alice_calendar = alice_with_entries
    made = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], calendar_home="/{user}/").make_calendar(
        alice_calendar.agent.mailbox, "other-work-2"
    )
    new_phone = OtherClient(radicale.url, "alice", USERS["alice"], made.calendar_id)
    new_phone.add("own-1", tomorrow_9 + timedelta(hours=7), tomorrow_9 + timedelta(hours=8), "Gym")
    _relink_in_admin(admin_client, alice_calendar, made.calendar_id)
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)
    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(full_sync_at=timezone.now() - timedelta(days=2))
    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert set(Appointment.objects.values_list("subject", flat=True)) >= EVERY_SUBJECT - {"Dentist"}


def test_a_move_kept_open_by_one_unanswered_entry_still_takes_the_users_deletions(
    alice_with_entries,  # noqa: F811 (the fixture imported above)
    second_radicale,  # noqa: F811
):
    """One entry the new server refuses to read (403 on its GET, for good: an ACL, an object the
    server cannot render) used to keep `moved_from` set for ever; alice then deletes another entry
    on the new server after the first listing put it there. The helpdesk must take that deletion, not put the
    entry back at every poll (the 'never lost, never overwritten' promise, the other way round)."""
    alice_calendar = alice_with_entries
    new_phone = _empty_twin(second_radicale, alice_calendar)
    proxy = FaultProxy(second_radicale.url)
    try:
        stuck = SyncLink.objects.get(appointment__subject="Visit 0")
        proxy.refuse(stuck.remote_id, reads=True)
        _move(alice_calendar.connection, proxy.url)
        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)
        deleted = SyncLink.objects.get(appointment__subject="Visit 1")

        new_phone.delete(deleted.marker)  # alice deletes it on the new server
        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)
    finally:
        proxy.stop()

    assert deleted.marker not in _uids(new_phone)
    assert not Appointment.objects.filter(subject="Visit 1").exists()


def test_the_delete_compare_and_set_is_one_conditional_statement(alice_calendar):
    """engine._Run._deleted: `SyncLink.objects.filter(pk=…, changes=…).delete()` is meant as a
    compare-and-set against a helpdesk change made meanwhile (task push 3). SyncLogEntry.link is
    SET_NULL, so Django cannot fast-delete: it SELECTs the rows, then deletes them by id alone, and a
    change committed between the two (the entry given back) is deleted with the link."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    link = SyncLink.objects.create(agent_calendar=alice_calendar)
    with CaptureQueriesContext(connection) as captured:
        SyncLink.objects.filter(pk=link.pk, changes=link.changes).delete()
    deletes = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("DELETE")]
    link_deletes = [sql for sql in deletes if "integrations_synclink" in sql.split("WHERE")[0]]
    assert link_deletes and all('"changes"' in sql for sql in link_deletes), deletes


def test_a_merge_keeps_the_zero_length_the_phone_moved_the_entry_with(alice_calendar, alice_phone):
    """L-ZEROLEN in the merge path: the phone moves an entry of no length (DTEND = DTSTART, 09:00Z to
    11:00Z) while the helpdesk renames it. The merge takes the phone's times and pushes the name; the
    push must not write the helpdesk's one-minute end over the phone's entry (icalendar reads it)."""
    from calendars import services as calendar_services
    from tests.integrations.test_zero_length_kept import CASES, _end, _entry, _imported

    uid = "zero-merged"
    alice_calendar, appointment = _imported(alice_calendar, alice_phone, uid, CASES["dtend-equals-dtstart"])
    calendar_services.update_appointment(appointment, subject="Renamed in the helpdesk")  # pending, not pushed
    alice_phone.calendar.save_event(_entry(uid, "DTSTART:20270105T110000Z\r\nDTEND:20270105T110000Z\r\n"))

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert report.failed == 0, report.errors
    after = alice_phone.by_uid(uid).icalendar_component
    assert str(after["summary"]) == "Renamed in the helpdesk"
    start = after.decoded("dtstart")
    assert start.astimezone(UTC) == datetime(2027, 1, 5, 11, 0, tzinfo=UTC)
    assert _end(after).astimezone(UTC) == start.astimezone(UTC)


def test_a_merge_takes_the_reminder_the_phone_changed_with_another_field(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """Task remind: 'a pulled change of other fields takes a changed reminder too'. In the merge path
    (the helpdesk renamed it, the phone changed the location and the alarm 15 -> 120 minutes) the
    reminder must reach the helpdesk as well, not stay 15 there while the phone rings at 120."""
    from calendars import services as calendar_services
    from tests.integrations.test_caldav_reminder_edited import _set_trigger, _triggers
    from tests.integrations.test_caldav_sync import make, pull

    appointment = make(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks, reminder_minutes=15)
    marker = SyncLink.objects.get(appointment=appointment).marker
    calendar_services.update_appointment(appointment, subject="Renamed in the helpdesk")  # pending
    _set_trigger(alice_phone, marker, 120)
    alice_phone.edit(marker, location="Room 4")

    report = pull(alice_calendar)

    assert report.failed == 0, report.errors
    appointment.refresh_from_db()
    assert (appointment.subject, appointment.location) == ("Renamed in the helpdesk", "Room 4")
    assert _triggers(alice_phone, marker) == [timedelta(minutes=-120)]
    assert appointment.reminder_minutes == 120
    pulled = SyncLogEntry.objects.filter(direction="in", operation="update").latest("id")
    assert pulled.message.endswith(" Reminder from the external calendar."), pulled.message
    assert pull(alice_calendar).pulled == 0  # taken once: the next pull finds nothing new there


def test_a_technicians_own_entry_recreated_after_a_move_keeps_what_the_helpdesk_does_not_model(
    alice_calendar,
    alice_phone,
    second_radicale,  # noqa: F811
):
    """Alice's own entry (made on her phone: categories, an X- property of her booking tool, her
    alarm) is re-created on the new, empty server after the move: it must come back as she had it,
    not as the helpdesk's stripped copy (`_not_at_new_place` drops `remote_raw`, which the split's
    `_to_create` shows can serve as the template)."""
    from tests.integrations.importing import start_importing

    alice_calendar = start_importing(alice_calendar)
    alice_phone.calendar.save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Phone//EN\r\nBEGIN:VEVENT\r\nUID:own-1\r\n"
        "DTSTAMP:20261201T100000Z\r\nDTSTART:20270105T090000Z\r\nDTEND:20270105T100000Z\r\n"
        "SUMMARY:Dentist\r\nCATEGORIES:Health\r\nX-BOOKING-ID:dent-7\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Dentist\r\nTRIGGER:-PT2H\r\nEND:VALARM\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert engine.sync_agent_calendar(alice_calendar, pull=True).failed == 0
    new_phone = _empty_twin(second_radicale, AgentCalendar.objects.get(pk=alice_calendar.pk))
    _move(alice_calendar.connection, second_radicale.url)

    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert report.failed == 0, report.errors
    component = new_phone.by_uid("own-1").icalendar_component
    assert str(component.get("x-booking-id")) == "dent-7"
    assert "Health" in component.get("categories").to_ical().decode()
    alarms = [alarm.decoded("trigger") for alarm in component.walk("VALARM")]
    assert alarms == [timedelta(hours=-2)]  # hers, once (not hers and the helpdesk's)
    link = SyncLink.objects.get(marker="own-1")
    assert "template_raw" not in link.snapshot  # the template served its one create
    assert link.remote_id == str(new_phone.by_uid("own-1").url.path)


def test_a_push_before_the_first_listing_after_a_relink_leaves_the_old_calendar_of_the_same_server(
    admin_client,
    alice_with_entries,  # noqa: F811 (the fixture imported above)
    alice_phone,
    radicale,
):
    """Review F5 on CalDAV: relinked to another calendar of the same server, a helpdesk edit and a
    delete pushed (push-only, the on-commit push) before the first listing must not PUT or DELETE the
    old calendar's resources by their old paths; the pull then makes the edited entry once in the new
    calendar and never the deleted one. Read back with a separate CalDAV client."""
    from collections import Counter

    from calendars import services as calendar_services

    alice_calendar = alice_with_entries

    def summaries(client: OtherClient) -> Counter:
        return Counter(str(entry.icalendar_component["summary"]) for entry in client.entries())

    before = summaries(alice_phone)
    made = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], calendar_home="/{user}/").make_calendar(
        alice_calendar.agent.mailbox, "other-work-f5"
    )
    new_phone = OtherClient(radicale.url, "alice", USERS["alice"], made.calendar_id)
    _relink_in_admin(admin_client, alice_calendar, made.calendar_id)
    calendar_services.update_appointment(Appointment.objects.get(subject="Visit 0"), subject="Visit 0 (moved)")
    calendar_services.delete_appointment(Appointment.objects.get(subject="Visit 1"))

    engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=False)

    assert summaries(alice_phone) == before  # the old calendar is left as it was
    report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=alice_calendar.pk), pull=True)

    assert report.failed == 0, report.errors
    assert summaries(alice_phone) == before
    after = summaries(new_phone)
    assert after["Visit 0 (moved)"] == 1 and after["Visit 1"] == 0 and after["Visit 0"] == 0
    assert not Appointment.objects.filter(subject="Visit 1").exists()
