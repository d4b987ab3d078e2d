"""Trial F3 and F4: a helpdesk change to a one-off entry read from the external calendar.

F3: every TZID written has its VTIMEZONE (RFC 5545 3.2.19: MUST), so no server invents one (Radicale's
vobject wrote the fall-back at 04:00 local instead of 03:00). The expected offsets come from
zoneinfo (the IANA database), read through dateutil's own VTIMEZONE reader (dateutil.tz.tzical).
F4: a one-off entry in a zone of its own (Outlook's "Pacific Standard Time", another IANA zone)
keeps it when the helpdesk moves it, as a series keeps its time_zone: what we do not model is kept.
"""

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil import tz

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink
from integrations.providers.base import RemoteEvent
from integrations.providers.caldav import build_calendar, merge_calendar, parse_event
from integrations.sync import engine
from tests.integrations.importing import start_importing

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _object(uid: str, times: str, summary: str = "Phone entry") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//trial//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261201T100000Z\r\n{times}SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _moved(raw: str, start: datetime, end: datetime, zone: str = "Europe/Amsterdam") -> RemoteEvent:
    """The helpdesk's side of the entry in `raw` after a move: a one-off in the technician's zone."""
    event = parse_event(raw, remote_id="/alice/work/x.ics")
    event.start, event.end, event.time_zone = start, end, zone
    return event


def _offset_read_by_dateutil(text: str, tzid: str, wall: datetime) -> timedelta:
    """The UTC offset the object's own VTIMEZONE `tzid` gives `wall`, read by dateutil (RFC 5545 3.6.5)."""
    cal = icalendar.Calendar.from_ical(text)
    block = next(c for c in cal.walk("VTIMEZONE") if str(c["tzid"]) == tzid)
    return tz.tzical(io.StringIO(block.to_ical().decode())).get(tzid).utcoffset(wall)


def test_merge_adds_the_vtimezone_of_a_tzid_it_writes_into_an_entry_without_one():
    """The trial's steps on an entry whose TZID came without its VTIMEZONE, moved in the helpdesk to
    31 Oct 2027 03:30 CET (a UTC entry now stays in UTC form: test_entry_time_form_kept.py)."""
    raw = _object(
        "tzid-1", "DTSTART;TZID=Europe/Amsterdam:20271030T120000\r\nDTEND;TZID=Europe/Amsterdam:20271030T130000\r\n"
    )
    start = datetime(2027, 10, 31, 2, 30, tzinfo=UTC)  # 03:30+01:00, the hour after the fall-back

    text = merge_calendar(raw, _moved(raw, start, start + timedelta(hours=1)))

    cal = icalendar.Calendar.from_ical(text)
    assert not cal.get_missing_tzids()
    wall = datetime(2027, 10, 31, 3, 30)
    assert _offset_read_by_dateutil(text, "Europe/Amsterdam", wall) == wall.replace(tzinfo=AMSTERDAM).utcoffset()


def test_build_gives_a_vtimezone_for_every_tzid():
    start = datetime(2027, 10, 31, 2, 30, tzinfo=UTC)
    event = RemoteEvent(start=start, end=start + timedelta(hours=1), subject="New", time_zone="Europe/Amsterdam")
    event.marker = "helpdesk-build-1"

    cal = icalendar.Calendar.from_ical(build_calendar(event))

    assert not cal.get_missing_tzids()


@pytest.mark.parametrize(
    ("tzid", "zone"),
    [("Pacific Standard Time", "America/Los_Angeles"), ("America/New_York", "America/New_York")],
    ids=["windows-name", "iana-name"],
)
def test_a_moved_one_off_keeps_its_own_zone(tzid, zone):
    raw = _object("own-1", f"DTSTART;TZID={tzid}:20261210T090000\r\nDTEND;TZID={tzid}:20261210T100000\r\n")
    own = ZoneInfo(zone)
    start = datetime(2026, 12, 10, 10, 0, tzinfo=own).astimezone(UTC)  # moved one hour later

    text = merge_calendar(raw, _moved(raw, start, start + timedelta(hours=1)))

    vevent = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
    assert vevent["dtstart"].params["TZID"] == tzid and vevent["dtend"].params["TZID"] == tzid
    assert f"DTSTART;TZID={tzid}:20261210T100000" in text.replace("\r\n ", "")
    assert parse_event(text, remote_id="/x.ics").start == start  # the same instant, read back


def test_a_moved_one_off_in_utc_stays_in_utc():
    """Trial L-UTC: a UTC entry (RFC 5545 3.3.5 form 2) goes back in UTC form, not on the technician's zone."""
    raw = _object("utc-2", "DTSTART:20261210T080000Z\r\nDTEND:20261210T090000Z\r\n")
    start = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)

    text = merge_calendar(raw, _moved(raw, start, start + timedelta(hours=1)))

    assert "DTSTART:20261210T090000Z" in text and "TZID" not in text


def test_through_radicale_a_moved_entry_keeps_its_zone_and_gets_a_correct_vtimezone(alice_calendar, alice_phone):
    """End to end on the trial's two entries: what Radicale stores after the helpdesk moves them."""
    alice_calendar = start_importing(alice_calendar)
    alice_phone.calendar.save_event(_object("utc-3", "DTSTART:20271030T100000Z\r\nDTEND:20271030T110000Z\r\n", "UTC"))
    alice_phone.calendar.save_event(
        _object(
            "pst-3",
            "DTSTART;TZID=Pacific Standard Time:20261210T090000\r\n"
            "DTEND;TZID=Pacific Standard Time:20261210T100000\r\n",
            "Outlook",
        )
    )
    engine.sync_agent_calendar(alice_calendar, pull=True)
    utc_entry, outlook = Appointment.objects.get(subject="UTC"), Appointment.objects.get(subject="Outlook")
    fall_back = datetime(2027, 10, 31, 3, 30, tzinfo=AMSTERDAM)
    calendar_services.update_appointment(utc_entry, start=fall_back, end=fall_back + timedelta(hours=1))
    calendar_services.update_appointment(
        outlook, start=outlook.start + timedelta(hours=1), end=outlook.end + timedelta(hours=1)
    )

    report = engine.sync_agent_calendar(alice_calendar, pull=False)

    assert report.failed == 0, report.errors
    stored = icalendar.Calendar.from_ical(alice_phone.by_uid("utc-3").data).walk("VEVENT")[0]
    assert stored.decoded("dtstart") == fall_back and "TZID" not in stored["dtstart"].params  # UTC form kept
    stored = alice_phone.by_uid("pst-3").data.replace("\r\n ", "")
    assert "DTSTART;TZID=Pacific Standard Time:20261210T100000" in stored
    assert SyncLink.objects.filter(agent_calendar=alice_calendar, pending=True).count() == 0
