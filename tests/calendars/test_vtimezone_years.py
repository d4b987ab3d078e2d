"""Review faults 2, 12, 13: the VTIMEZONE we write must give tzdata's (zoneinfo's) offsets at every
instant of the span it is written for, as two independent readers read it back (dateutil's tzical
and icalendar's own VTIMEZONE reader); no yearly rule guessed from two years; a series without
UNTIL gets its zones to a horizon. Instants whose wall clock is ambiguous (fall-back fold) are
left out: there the readers' fold handling, not the block, decides."""

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil import tz as dateutil_tz

from calendars.ical import finish
from calendars.vtimezone import entry_span, vtimezone

ZONES = [
    "Asia/Jerusalem",
    "America/Santiago",
    "Asia/Gaza",
    "Europe/Dublin",
    "Europe/Amsterdam",
    "Australia/Lord_Howe",
    "Africa/Casablanca",
]


def readers(text: str):
    calendar = icalendar.Calendar.from_ical(f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{text}END:VCALENDAR\r\n")
    return dateutil_tz.tzical(io.StringIO(text)).get(), calendar.timezones[0].to_tz(lookup_tzid=False)


def wrong_instants(tzid: str, first: date, last: date) -> list[datetime]:
    text = vtimezone(tzid, first, last).to_ical().decode().replace(tzid, "X-Embedded-Only")
    zone, wrong = ZoneInfo(tzid), []
    by_dateutil, by_icalendar = readers(text)
    moment = datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(days=1)
    while moment < datetime(last.year, last.month, last.day, tzinfo=UTC):
        local = moment.astimezone(zone)
        ambiguous = local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()
        if not ambiguous and any(
            moment.astimezone(reader).utcoffset() != local.utcoffset() for reader in (by_dateutil, by_icalendar)
        ):
            wrong.append(moment)
        moment += timedelta(minutes=30)
    return wrong


@pytest.mark.parametrize("tzid", ZONES)
def test_written_zone_gives_tzdatas_offsets_from_2026_to_2035(tzid):
    assert wrong_instants(tzid, date(2025, 12, 31), date(2036, 1, 1)) == []


def test_feed_with_an_endless_weekly_series_in_jerusalem_gives_the_2030_change_right():
    """Israel's rule is "Friday on or after 23 March" (tzdata): 29 March 2030. A rule guessed from
    2026-2028 as BYDAY=4FR put it on 22 March, and a two-year span ended before (review fault 2)."""
    calendar = icalendar.Calendar.from_ical(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20261130T000000Z\r\n"
        "DTSTART;TZID=Asia/Jerusalem:20261130T090000\r\nDTEND;TZID=Asia/Jerusalem:20261130T100000\r\n"
        "RRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    text = finish(calendar).timezones[0].to_ical().decode()
    zone = ZoneInfo("Asia/Jerusalem")
    for reader in readers(text):
        for day in range(20, 32):
            moment = datetime(2030, 3, day, 12, tzinfo=UTC)
            assert moment.astimezone(reader).utcoffset() == moment.astimezone(zone).utcoffset(), moment


def test_entry_span_reads_rdate_exdate_and_until():
    calendar = icalendar.Calendar.from_ical(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20261130T000000Z\r\n"
        "DTSTART;TZID=Europe/Amsterdam:20270105T090000\r\nRRULE:FREQ=DAILY;UNTIL=20310101T000000Z\r\n"
        "EXDATE;TZID=Europe/Amsterdam:20261201T090000\r\nRDATE;TZID=Europe/Amsterdam:20320101T090000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    first, last = entry_span(calendar, today=date(2027, 1, 1))

    assert first == date(2026, 11, 30)
    assert last >= date(2032, 1, 1)


def test_dublin_summer_is_the_daylight_observance():
    """Outlook and Windows model Irish Standard Time (+01:00) as the daylight time (review fault 12)."""
    block = vtimezone("Europe/Dublin", date(2026, 1, 1), date(2027, 1, 1))
    daylight = [c for c in block.walk("DAYLIGHT")]
    assert [c.decoded("tzoffsetto") for c in daylight] == [timedelta(hours=1)]
