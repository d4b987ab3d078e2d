"""SPEC S3.8 "the sync log shows what was overwritten", against a real Radicale (the engine code
is shared by every connector): the log entry of a resolved conflict says, field by field and in
plain words, what the losing side had, and its `overwritten` JSON holds it; a private entry's
text never reaches the log; the summary of the run that resolved it, and of the next pull,
counts the conflict. The losing side's values are read from the server with the `caldav`
package (the phone's edit), never from our code."""

from datetime import timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from calendars import services as calendar_services
from calendars.models import CalendarSettings, ConflictRule
from integrations import services, tasks
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.sync import engine

pytestmark = pytest.mark.django_db


def _pull(agent_calendar):
    agent_calendar.refresh_from_db()
    return engine.sync_agent_calendar(agent_calendar, pull=True)


def _linked_job(alice_calendar, tomorrow_9, capture, **fields):
    with capture(execute=True):
        appointment = calendar_services.create_appointment(
            subject="#11 Replace failing switch",
            start=tomorrow_9,
            end=tomorrow_9 + timedelta(hours=1),
            agents=[alice_calendar.agent],
            note="Bring the spare switch",
            **fields,
        )
    _pull(alice_calendar)
    return appointment


def _phone_summary(alice_phone, marker: str) -> str:
    return str(alice_phone.by_uid(marker).icalendar_component["summary"])


def test_helpdesk_wins_conflict_of_a_push_says_what_the_phone_had(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """The trial's F12: the phone renames the job and rewrites its description while the
    coordinator renames it, edits its note and sets a location; the push meets the server's 412
    (If-Match), reads the entry again and overwrites the two fields both changed. The location only
    the coordinator set is no conflict and is not listed as overwritten (trial fault 4)."""
    appointment = _linked_job(alice_calendar, tomorrow_9, django_capture_on_commit_callbacks)
    marker = SyncLink.objects.get().marker
    alice_phone.edit(marker, summary="#11 renamed on phone", description="Phone note")
    phone_had = _phone_summary(alice_phone, marker)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        calendar_services.update_appointment(
            appointment, subject="#11 Replace the switch", note="Coordinator note", location="Server room B"
        )
    assert queued  # the push goes on commit, not inside the change

    outcome = tasks.push_agent_calendar.apply(args=[alice_calendar.pk]).get()

    assert _phone_summary(alice_phone, marker) == "#11 Replace the switch"
    conflict = SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT)
    assert conflict.direction == SyncLogEntry.Direction.OUTBOUND
    assert sorted(conflict.overwritten) == ["body", "subject"]
    assert conflict.overwritten["subject"] == phone_had == "#11 renamed on phone"
    assert "Both changed subject and description: the helpdesk's version won." in conflict.message
    assert f"Overwritten in the external calendar: subject '{phone_had}', description 'Phone note'." in conflict.message
    assert "location (empty)" not in conflict.message
    assert "conflicts 1" in outcome


def test_sync_calendars_after_a_push_resolved_a_conflict_counts_it(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = _linked_job(alice_calendar, tomorrow_9, django_capture_on_commit_callbacks)
    alice_phone.edit(SyncLink.objects.get().marker, summary="#11 renamed on phone")
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="#11 Replace the switch")
    assert SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT).count() == 1

    out = StringIO()
    call_command("sync_calendars", "--agent", "alice", stdout=out)

    assert "conflicts 1 (1 resolved by a push since the last pull: see the sync log)" in out.getvalue()
    out = StringIO()
    call_command("sync_calendars", "--agent", "alice", stdout=out)
    assert "conflicts 0," in out.getvalue()  # counted once
    assert AgentCalendar.objects.get(pk=alice_calendar.pk).push_conflicts == 0


def test_external_wins_conflict_of_a_pull_says_what_the_helpdesk_had_on_the_technicians_clock(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    settings = CalendarSettings.load()
    settings.conflict_rule = ConflictRule.EXTERNAL_WINS
    settings.save()
    appointment = _linked_job(alice_calendar, tomorrow_9, django_capture_on_commit_callbacks)
    on_phone = tomorrow_9 + timedelta(hours=3)
    alice_phone.edit(
        SyncLink.objects.get().marker,
        summary="Renamed on the phone",
        dtstart=on_phone,
        dtend=on_phone + timedelta(hours=1),
    )
    moved = tomorrow_9 + timedelta(hours=1, minutes=30)
    calendar_services.update_appointment(appointment, start=moved, end=moved + timedelta(hours=1))  # not pushed yet

    report = _pull(alice_calendar)

    appointment.refresh_from_db()
    assert (appointment.subject, appointment.start) == ("Renamed on the phone", on_phone)
    conflict = SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT)
    assert conflict.direction == SyncLogEntry.Direction.INBOUND
    wall = moved.astimezone(ZoneInfo("Europe/Amsterdam"))  # alice's zone
    assert f"Overwritten in the helpdesk: start {wall:%a} {wall.day} " in conflict.message
    assert f"{wall:%b %Y %H:%M}" in conflict.message
    assert sorted(conflict.overwritten) == ["end", "start"]  # the subject only the phone changed is no conflict
    assert report.conflicts == 1


def test_conflict_of_a_private_entry_names_the_fields_but_never_their_text(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = _linked_job(alice_calendar, tomorrow_9, django_capture_on_commit_callbacks, private=True)
    alice_phone.edit(SyncLink.objects.get().marker, summary="Doctor, renamed on phone", location="Clinic")
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="Check-up", location="Room 2", note="Another note")

    conflict = SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT)
    assert "Overwritten in the external calendar: subject (private entry: not shown)" in conflict.message
    stored = f"{conflict.subject} {conflict.message} {conflict.overwritten}"
    for secret in ("Doctor", "Clinic", "Bring the spare switch"):
        assert secret not in stored
    assert conflict.overwritten["subject"] == "(private)"


def test_an_entry_turning_private_later_takes_its_text_out_of_earlier_conflict_messages(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    appointment = _linked_job(alice_calendar, tomorrow_9, django_capture_on_commit_callbacks)
    alice_phone.edit(SyncLink.objects.get().marker, summary="Doctor, renamed on phone")
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="#11 Replace the switch")
    assert "'Doctor, renamed on phone'" in SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT).message

    services.forget_private_text(appointment)  # what a flip to private on the phone calls (sync/privacy.py)

    conflict = SyncLogEntry.objects.get(result=SyncLogEntry.Result.CONFLICT)
    assert "Doctor" not in f"{conflict.message} {conflict.overwritten}"
    assert conflict.message.startswith("Both sides changed since the last sync; merged field by field.")
    assert "the helpdesk's version won. Overwritten in the external" in conflict.message
    assert "subject (private entry: not shown)" in conflict.message


# --- the empty-listing safety check --------------------------------------------------------------------


def test_full_listing_of_unchanged_entries_is_not_taken_for_an_empty_calendar(
    alice_calendar, tomorrow_9, django_capture_on_commit_callbacks
):
    """The trial: after a restart the daily full listing found only entries the helpdesk itself
    wrote (listed with the version it holds) and logged "asking for each of the 0 entries"."""
    _linked_job(alice_calendar, tomorrow_9, django_capture_on_commit_callbacks)
    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(sync_token="")  # the next pull lists in full

    report = _pull(alice_calendar)

    assert (report.pulled, report.failed) == (0, 0)
    assert not SyncLogEntry.objects.filter(operation="full listing").exists()
    assert SyncLink.objects.count() == 1


def test_empty_listing_says_how_many_entries_were_asked_about_and_what_came_back(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    _linked_job(alice_calendar, tomorrow_9, django_capture_on_commit_callbacks)
    _linked_job(alice_calendar, tomorrow_9 + timedelta(days=1), django_capture_on_commit_callbacks)
    for entry in alice_phone.entries():
        entry.delete()
    assert alice_phone.entries() == []
    AgentCalendar.objects.filter(pk=alice_calendar.pk).update(sync_token="")

    _pull(alice_calendar)

    check = SyncLogEntry.objects.get(operation="full listing")
    assert check.message == (
        "The calendar came back empty, though 2 linked entries should be in it; each was asked about on its "
        "own before anything was deleted: 2 gone (deleted here too)."
    )
    assert not SyncLink.objects.exists()
