"""Review faults 2, 12, 13: the VTIMEZONE we write must give tzdata's (zoneinfo's) offsets at every
instant of the span it is written for, as two independent readers read it back (dateutil's tzical
and icalendar's own VTIMEZONE reader); no yearly rule guessed from two years; a series without
UNTIL gets its zones to a horizon. Instants whose wall clock is ambiguous (fall-back fold) are
left out: there the readers' fold handling, not the block, decides."""

import io
import uuid
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


def hidden_name() -> str:
    """A zone name nobody knows, new each time: icalendar keeps the first VTIMEZONE read under such
    a name for the whole process, and another test's zone under the same name would answer."""
    return f"X-Embedded-Only-{uuid.uuid4().hex}"


def readers(text: str):
    calendar = icalendar.Calendar.from_ical(f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{text}END:VCALENDAR\r\n")
    return dateutil_tz.tzical(io.StringIO(text)).get(), calendar.timezones[0].to_tz(lookup_tzid=False)


def instants(zone: ZoneInfo, first: date, last: date) -> list[datetime]:
    """What the readers are asked, first..last: 00:00 and 12:00 UTC of every day, and every half
    hour of the two days around each change of zoneinfo's offset (where a wrong onset shows)."""
    found = []
    moment = datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(days=1)
    while moment < datetime(last.year, last.month, last.day, tzinfo=UTC):
        following = moment + timedelta(days=1)
        if following.astimezone(zone).utcoffset() != moment.astimezone(zone).utcoffset():
            found += [moment - timedelta(days=1) + timedelta(minutes=30 * n) for n in range(4 * 48)]
        else:
            found += [moment, moment + timedelta(hours=12)]
        moment = following
    return found


def wrong_instants(tzid: str, first: date, last: date) -> list[datetime]:
    text = vtimezone(tzid, first, last).to_ical().decode().replace(tzid, hidden_name())
    zone, wrong = ZoneInfo(tzid), []
    by_dateutil, by_icalendar = readers(text)
    for moment in instants(zone, first, last):
        local = moment.astimezone(zone)
        ambiguous = local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()
        if not ambiguous and any(
            moment.astimezone(reader).utcoffset() != local.utcoffset() for reader in (by_dateutil, by_icalendar)
        ):
            wrong.append(moment)
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


# Zones that keep summer time for ever after in tzdata (a POSIX TZ rule at the end of their file),
# with the rule forms that need care: last/nth Sunday, "Friday on or after 23 March" (Jerusalem,
# M3.4.4/26), "Sunday after the first Saturday" at 24:00 (Santiago), an hour before midnight
# (Nuuk, M3.5.0/-1), a half-hour change (Lord Howe), negative DST (Dublin), 2:45 (Chatham).
RULE_ZONES = [
    "Europe/Amsterdam",
    "America/New_York",
    "Asia/Jerusalem",
    "America/Santiago",
    "America/Nuuk",
    "Australia/Lord_Howe",
    "Europe/Dublin",
    "Pacific/Chatham",
]


@pytest.mark.parametrize("tzid", RULE_ZONES)
def test_a_zone_with_summer_time_for_ever_is_written_as_outlook_writes_it(tzid):
    """Review: blocks of onset dates only (RDATE) made Outlook match a Europe zone to "West-Central
    Africa" and show summer occurrences an hour off (iCalcreator #86). A span inside the years of
    the zone's lasting rule gets one STANDARD and one DAYLIGHT, each with an open yearly RRULE."""
    block = vtimezone(tzid, date(2026, 11, 30), date(2029, 1, 1))
    observances = block.subcomponents

    assert sorted(component.name for component in observances) == ["DAYLIGHT", "STANDARD"]
    for component in observances:
        assert component.get("rrule") is not None and "UNTIL" not in component["rrule"]
        assert "rdate" not in component


@pytest.mark.parametrize("tzid", ["Asia/Jerusalem", "America/Santiago", "America/Nuuk", "Europe/Dublin"])
def test_a_block_written_for_two_years_stays_right_decades_later(tzid):
    """RFC 5545 3.6.5: a VTIMEZONE a recurring entry refers to MUST be valid for every instance. A
    CalDAV entry or an e-mail attachment is never written again, so a series without end written
    now must read right in 2040-2055 too (`instants`: twice a day, and every half hour around each
    change, as zoneinfo (tzdata) gives them), read by dateutil's tzical and icalendar."""
    text = vtimezone(tzid, date(2026, 11, 30), date(2028, 12, 1)).to_ical().decode().replace(tzid, hidden_name())
    zone, wrong = ZoneInfo(tzid), []
    for reader in readers(text):
        for instant in instants(zone, date(2040, 1, 1), date(2056, 1, 1)):
            local = instant.astimezone(zone)
            ambiguous = local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()
            if not ambiguous and instant.astimezone(reader).utcoffset() != local.utcoffset():
                wrong.append(instant)
    assert wrong == []


def test_a_span_before_the_lasting_rule_lists_the_old_changes_then_the_rule():
    """Jerusalem's rule since 2013 ("Friday on or after 23 March"); before it other dates
    (2012: 30 March, 23 September). A span from 2011 lists those onsets, then the open rule."""
    block = vtimezone("Asia/Jerusalem", date(2011, 6, 1), date(2016, 1, 1))
    text = block.to_ical().decode()

    assert "RDATE:20120923T020000" in text
    assert "RRULE:FREQ=YEARLY;BYDAY=FR;BYMONTHDAY=23,24,25,26,27,28,29;BYMONTH=3" in text
    assert wrong_instants("Asia/Jerusalem", date(2011, 6, 1), date(2016, 1, 1)) == []
