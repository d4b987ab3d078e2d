"""Trial L-ZEROLEN: an entry of no length (RFC 5545 3.6.1: DTEND = DTSTART, DURATION:PT0S, or neither;
3.3.5: a start in the spring-forward gap ending on the hour after it) is kept as 1 minute in the
helpdesk, but a helpdesk edit of another field writes back only what the helpdesk changed: the entry's
own times (property and form) stay as the phone wrote them. A move in the helpdesk is still written.

Expected ends are read from the entry on Radicale with icalendar (RFC 5545 3.6.1: a DATE-TIME start
with neither DTEND nor DURATION ends at the start), never from our code."""

from datetime import UTC, datetime, timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink
from integrations.sync import engine
from tests.integrations.importing import start_importing

pytestmark = pytest.mark.django_db

# A VTIMEZONE of its own TZID (icalendar's process-wide zone table: TESTING.md).
VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Amsterdam\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nDTSTART:19810329T020000\r\nTZNAME:CEST\r\nTZOFFSETTO:+0200\r\n"
    "END:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "DTSTART:19961027T030000\r\nTZNAME:CET\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)

CASES = {
    "dtend-equals-dtstart": "DTSTART:20270105T090000Z\r\nDTEND:20270105T090000Z\r\n",
    "duration-0": "DTSTART;TZID=Europe/Amsterdam:20270106T100000\r\nDURATION:PT0S\r\n",
    "no-end-at-all": "DTSTART;TZID=Europe/Amsterdam:20270107T100000\r\n",
    "spring-forward-gap": (
        "DTSTART;TZID=Europe/Amsterdam:20270328T023000\r\nDTEND;TZID=Europe/Amsterdam:20270328T033000\r\n"
    ),
}


def _entry(uid: str, times: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n"
        f"{VTIMEZONE}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261201T100000Z\r\n{times}"
        "SUMMARY:No length\r\nX-BOOKING-ID:z-1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _times(component) -> dict[str, str]:
    """DTSTART, DTEND and DURATION as written on the server (value and TZID)."""
    return {
        name: (component[name].to_ical().decode(), str(component[name].params.get("TZID", "")))
        for name in ("DTSTART", "DTEND", "DURATION")
        if name in component
    }


def _end(component) -> datetime:
    """RFC 5545 3.6.1 / 3.8.2.5, as icalendar decodes the properties."""
    start = component.decoded("dtstart")
    if "dtend" in component:
        return component.decoded("dtend")
    if "duration" in component:
        return start + component.decoded("duration")
    return start


def _imported(alice_calendar, alice_phone, uid: str, times: str):
    alice_calendar = start_importing(alice_calendar)
    alice_phone.calendar.save_event(_entry(uid, times))
    report = engine.sync_agent_calendar(alice_calendar, pull=True)
    assert report.failed == 0, report.errors
    appointment = Appointment.objects.get(subject="No length")
    assert appointment.end - appointment.start == timedelta(minutes=1)  # as the model keeps it
    return alice_calendar, appointment


@pytest.mark.parametrize("case", list(CASES))
def test_a_subject_edit_in_the_helpdesk_keeps_the_entry_s_own_zero_length(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks, case
):
    uid = f"zero-{case}"
    alice_calendar, appointment = _imported(alice_calendar, alice_phone, uid, CASES[case])
    before = alice_phone.by_uid(uid).icalendar_component
    written, start = _times(before), before.decoded("dtstart")
    assert _end(before).astimezone(UTC) == start.astimezone(UTC)  # the oracle: no length (3.3.5 for the gap)

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, subject="No length, renamed")

    after = alice_phone.by_uid(uid).icalendar_component
    assert str(after["summary"]) == "No length, renamed"
    assert _times(after) == written  # DTSTART, DTEND/DURATION untouched, in the form the phone wrote
    assert _end(after).astimezone(UTC) == after.decoded("dtstart").astimezone(UTC)
    assert str(after["x-booking-id"]) == "z-1"
    link = SyncLink.objects.get(appointment=appointment)
    assert link.pending is False and link.failures == 0

    # Our own write read back is no change from the phone: nothing pulled, the 1 minute stays.
    again = engine.sync_agent_calendar(alice_calendar, pull=True)

    assert (again.pulled, again.pushed, again.failed) == (0, 0, 0), again.errors
    appointment.refresh_from_db()
    assert appointment.subject == "No length, renamed"
    assert appointment.end - appointment.start == timedelta(minutes=1)


def test_a_move_in_the_helpdesk_writes_its_own_times(alice_calendar, alice_phone, django_capture_on_commit_callbacks):
    uid = "zero-moved"
    alice_calendar, appointment = _imported(alice_calendar, alice_phone, uid, CASES["dtend-equals-dtstart"])
    new_start = datetime(2027, 1, 5, 13, 0, tzinfo=UTC)

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(appointment, start=new_start, end=new_start + timedelta(minutes=30))

    after = alice_phone.by_uid(uid).icalendar_component
    assert after.decoded("dtstart").astimezone(UTC) == new_start
    assert _end(after).astimezone(UTC) == new_start + timedelta(minutes=30)
