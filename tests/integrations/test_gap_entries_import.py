"""Trial F2: an entry that has no length once read (a start in the spring-forward gap, DURATION:PT0S)
imports as 1 minute with a note, on the batch importer and the one-by-one path alike; it never
reaches the database constraint appointment_ends_after_start.

RFC 5545 3.3.5: a local time the clocks skip is read with the offset before the gap, so
2027-03-28 02:30 Europe/Amsterdam is 02:30+01:00 = 01:30Z, the instant of 03:30 CEST (its DTEND).
"""

from datetime import UTC, datetime, timedelta

import pytest

from calendars.models import Appointment
from integrations.models import SyncLink, SyncLogEntry
from integrations.providers.caldav import read_event
from integrations.sync import engine, inbound, limits
from tests.integrations.importing import start_importing

VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Amsterdam\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nDTSTART:19810329T020000\r\nTZNAME:CEST\r\nTZOFFSETTO:+0200\r\n"
    "END:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "DTSTART:19961027T030000\r\nTZNAME:CET\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)

# The trial's entry (Thunderbird's shape), and one of no length by DURATION (RFC 5545 3.8.2.5).
GAP = (
    "DTSTART;TZID=Europe/Amsterdam:20270328T023000\r\nDTEND;TZID=Europe/Amsterdam:20270328T033000\r\n",
    datetime(2027, 3, 28, 1, 30, tzinfo=UTC),  # 02:30 read with +01:00, the offset before the gap
    "does not exist that day",
)
NO_DURATION = (
    "DTSTART;TZID=Europe/Amsterdam:20270329T100000\r\nDURATION:PT0S\r\n",
    datetime(2027, 3, 29, 8, 0, tzinfo=UTC),  # CEST, +02:00
    "(no length); it is kept as 1 minute",
)


def _entry(uid: str, times: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n"
        f"{VTIMEZONE}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261201T100000Z\r\n{times}"
        "SUMMARY:Trial gap event\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.mark.parametrize(("times", "start", "note"), [GAP, NO_DURATION], ids=["spring-forward-gap", "duration-0"])
def test_an_entry_of_no_length_imports_as_one_minute_through_the_sync(alice_calendar, alice_phone, times, start, note):
    alice_calendar = start_importing(alice_calendar)
    alice_phone.calendar.save_event(_entry("trial-gap-1", times))

    report = engine.sync_agent_calendar(alice_calendar, pull=True)

    assert report.failed == 0, report.errors
    appointment = Appointment.objects.get(subject="Trial gap event")
    assert (appointment.start, appointment.end) == (start, start + timedelta(minutes=1))
    assert SyncLink.objects.filter(agent_calendar=alice_calendar, appointment=appointment).exists()
    line = SyncLogEntry.objects.get(agent_calendar=alice_calendar, subject="Trial gap event")
    assert note in line.message and "Constraint" not in line.message
    alice_calendar.refresh_from_db()
    assert alice_calendar.import_retry == {}  # not tried again at every pull

    again = engine.sync_agent_calendar(alice_calendar, pull=True)

    assert again.failed == 0 and Appointment.objects.filter(subject="Trial gap event").count() == 1


@pytest.mark.parametrize(("times", "start", "note"), [GAP, NO_DURATION], ids=["spring-forward-gap", "duration-0"])
def test_an_entry_of_no_length_imports_as_one_minute_one_by_one(alice, times, start, note):
    """The path the engine takes when a batch fails, and for a change that brings back a removed entry."""
    event = limits.bound_event(read_event(_entry("trial-gap-2", times), remote_id="/alice/work/trial-gap-2.ics"))

    appointment = inbound.import_remote_event(alice, event)

    appointment.refresh_from_db()
    assert (appointment.start, appointment.end) == (start, start + timedelta(minutes=1))
    assert any(note in sentence for sentence in event.notes)


def test_a_phone_move_into_the_gap_updates_the_entry_as_one_minute(alice_calendar, alice_phone, tomorrow_9):
    """An update (not an import) that leaves no length once read goes the same way."""
    alice_calendar = start_importing(alice_calendar)
    alice_phone.add("gap-move", tomorrow_9, tomorrow_9 + timedelta(hours=1), "Will move into the gap")
    engine.sync_agent_calendar(alice_calendar, pull=True)
    entry = alice_phone.by_uid("gap-move")
    entry.data = _entry("gap-move", GAP[0]).replace("Trial gap event", "Will move into the gap")
    entry.save()

    report = engine.sync_agent_calendar(alice_calendar, pull=True)

    assert report.failed == 0, report.errors
    appointment = Appointment.objects.get(subject="Will move into the gap")
    assert (appointment.start, appointment.end) == (GAP[1], GAP[1] + timedelta(minutes=1))


def test_the_model_refuses_an_end_at_the_start_s_instant_before_the_database_does(alice):
    """Appointment.clean compares instants as the constraint does: 03:30 CEST is 02:30's instant."""
    from zoneinfo import ZoneInfo

    from django.core.exceptions import ValidationError

    zone = ZoneInfo("Europe/Amsterdam")
    appointment = Appointment(
        subject="x", start=datetime(2027, 3, 28, 2, 30, tzinfo=zone), end=datetime(2027, 3, 28, 3, 30, tzinfo=zone)
    )

    with pytest.raises(ValidationError, match="The end must be after the start"):
        appointment.clean()


def test_a_graph_entry_in_the_gap_imports_as_one_minute(alice):
    """Graph gives a wall clock and a zone name (dateTimeTimeZone): the same gap reaches the same
    inbound path (its reader already resolves 02:30 to 03:30, so this one guards, it passed before).
    Google and EWS send times with their offset or in UTC: no gap to fall in."""
    import copy

    from integrations.providers.graph import mapping as graph_mapping

    from .fuzz_inputs import graph_seeds

    resource = copy.deepcopy(graph_seeds()[0][0])
    resource["start"] = {"dateTime": "2027-03-28T02:30:00.0000000", "timeZone": "W. Europe Standard Time"}
    resource["end"] = {"dateTime": "2027-03-28T03:30:00.0000000", "timeZone": "W. Europe Standard Time"}
    event = limits.bound_event(graph_mapping.event_from_graph(resource))

    appointment = inbound.import_remote_event(alice, event)

    appointment.refresh_from_db()
    assert (appointment.start, appointment.end) == (GAP[1], GAP[1] + timedelta(minutes=1))
