"""Trial fault 1: the VTIMEZONE we write into a CalDAV entry must still say the right offsets after a
real server (Radicale, which keeps only the first value of a comma-separated RDATE line) has stored
it. The times are read back on the embedded VTIMEZONE alone (the TZID renamed to one nobody knows,
so no reader can fall back on the IANA name), by dateutil's tzical and recurring-ical-events; the
right values are the instants the helpdesk was given and the IANA offsets (tzdata)."""

import dataclasses
import io
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from dateutil import tz as dateutil_tz

from calendars import services as calendar_services
from calendars.vtimezone import vtimezone
from integrations.models import SyncLink
from integrations.providers.caldav import merge_calendar, parse_event
from tests.integrations.test_caldav_sync import make

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
HOUR = timedelta(hours=1)
# icalendar keeps the first VTIMEZONE it reads under a name unknown to zoneinfo for the whole
# process (tests read with it directly), so the name is this module's alone.
HIDDEN = f"X-Embedded-Only-{uuid.uuid4().hex}"


def stored(phone, appointment) -> str:
    """The entry as Radicale gives it back, its zone renamed so only the embedded block can be read."""
    text = phone.by_uid(SyncLink.objects.get(appointment=appointment).marker).data
    assert "TZID:Europe/Amsterdam" in text
    return text.replace("Europe/Amsterdam", HIDDEN)


def embedded_zone(text: str):
    block = re.search(r"BEGIN:VTIMEZONE.*?END:VTIMEZONE\r?\n", text, re.S).group(0)
    return dateutil_tz.tzical(io.StringIO(block)).get(HIDDEN)


def start_read_by_dateutil(text: str) -> datetime:
    local = re.search(rf"DTSTART;TZID={HIDDEN}:(\d{{8}}T\d{{6}})", text).group(1)
    return datetime.strptime(local, "%Y%m%dT%H%M%S").replace(tzinfo=embedded_zone(text))


@pytest.mark.parametrize(
    "start", [datetime(2027, 7, 1, 9, tzinfo=AMSTERDAM), datetime(2027, 1, 15, 9, tzinfo=AMSTERDAM)]
)
def test_pushed_entry_keeps_its_summer_and_winter_time_on_radicale(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks, start
):
    appointment = make(alice_calendar.agent, start, django_capture_on_commit_callbacks)

    text = stored(alice_phone, appointment)

    assert start_read_by_dateutil(text) == start
    zone = embedded_zone(text)
    # The block covers the entry and two years after it (calendars.vtimezone.MARGIN_AFTER), no more.
    for day in (datetime(2027, 7, 1, 12), datetime(2027, 12, 1, 12), datetime(2028, 6, 1, 12)):
        assert day.replace(tzinfo=zone).utcoffset() == day.replace(tzinfo=AMSTERDAM).utcoffset()


def test_pushed_series_across_the_summer_time_change_keeps_its_wall_clock_on_radicale(
    alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """Weekly from Monday 15 March 2027 09:00 Amsterdam; summer time starts 28 March (EU rule)."""
    first = datetime(2027, 3, 15, 9, tzinfo=AMSTERDAM)
    with django_capture_on_commit_callbacks(execute=True):
        master = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=WEEKLY;COUNT=4", agents=[alice_calendar.agent], start=first, end=first + HOUR, subject="W"
        )

    text = stored(alice_phone, master)

    starts = [
        e.decoded("dtstart").astimezone(UTC)
        for e in recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
            date(2027, 3, 1), date(2027, 5, 1)
        )
    ]
    assert starts == [datetime(2027, 3, d, 8, tzinfo=UTC) for d in (15, 22)] + [
        datetime(2027, 3, 29, 7, tzinfo=UTC),
        datetime(2027, 4, 5, 7, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    "tzid", ["Europe/Amsterdam", "America/New_York", "Australia/Sydney", "Africa/Casablanca", "Asia/Tokyo"]
)
def test_written_zone_has_tzdatas_offsets_over_its_span_without_comma_lists(tzid):
    """Every zone, with or without a yearly rule (Casablanca's Ramadan changes have none): tzical
    reads tzdata's offset every 6 hours of the span, and no RDATE line holds more than one value."""
    text = vtimezone(tzid, date(2026, 11, 30), date(2029, 12, 1)).to_ical().decode().replace(tzid, HIDDEN)
    assert not re.search(r"^RDATE:[^\r\n]*,", text, re.M)
    zone, iana = dateutil_tz.tzical(io.StringIO(text)).get(HIDDEN), ZoneInfo(tzid)
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    while moment < datetime(2029, 12, 1, tzinfo=UTC):
        assert moment.astimezone(zone).utcoffset() == moment.astimezone(iana).utcoffset(), moment
        moment += timedelta(hours=6)


PHONE_SERIES = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\n"
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Amsterdam\r\nX-LIC-LOCATION:Europe/Amsterdam\r\nBEGIN:STANDARD\r\n"
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\n"
    "TZOFFSETTO:+0100\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
    "END:DAYLIGHT\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:phone-series\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART;TZID=Europe/Amsterdam:20270315T090000\r\nDTEND;TZID=Europe/Amsterdam:20270315T100000\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Choir\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_update_of_an_entry_we_did_not_write_keeps_its_own_vtimezone():
    current = parse_event(PHONE_SERIES, remote_id="/phone-series.ics")
    block = re.search(r"BEGIN:VTIMEZONE.*?END:VTIMEZONE\r\n", PHONE_SERIES, re.S).group(0)

    merged = merge_calendar(PHONE_SERIES, dataclasses.replace(current, subject="Choir (hall B)"))

    (kept,) = re.findall(r"BEGIN:VTIMEZONE.*?END:VTIMEZONE\r\n", merged, re.S)
    # the same properties and values (icalendar writes them in its own order and spelling)
    assert icalendar.Timezone.from_ical(kept).to_ical() == icalendar.Timezone.from_ical(block).to_ical()
    assert "Choir (hall B)" in merged
