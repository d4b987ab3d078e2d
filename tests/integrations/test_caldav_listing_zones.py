"""A CalDAV listing reads the VTIMEZONE blocks its entries repeat once (RFC 4791 4.1 makes every
calendar object carry its zones) and still gets every entry's times as the whole text gives them.
Expected times come from recurring-ical-events reading each entry's whole text on its own."""

from __future__ import annotations

from datetime import UTC, datetime

import icalendar
import pytest
import recurring_ical_events
from icalendar.timezone import tzp

from integrations.providers.base import RemoteCalendar, Window
from integrations.providers.caldav import CalDAVProvider
from tests.integrations.conftest import USERS
from tests.peers.radicale import AMSTERDAM

pytestmark = pytest.mark.django_db

# A zone no IANA database knows, so only its VTIMEZONE block can give the offsets (-05:00 in
# winter, -04:00 from the second Sunday of March). The name is this test's own: icalendar keeps
# the first definition of a TZID for the whole process.
CUSTOM_TZID = "Helpdesk Test Eastern (listing zones)"
CUSTOM = [
    "BEGIN:VTIMEZONE",
    f"TZID:{CUSTOM_TZID}",
    "BEGIN:STANDARD",
    "DTSTART:20001105T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
    "TZOFFSETFROM:-0400",
    "TZOFFSETTO:-0500",
    "END:STANDARD",
    "BEGIN:DAYLIGHT",
    "DTSTART:20000312T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
    "TZOFFSETFROM:-0500",
    "TZOFFSETTO:-0400",
    "END:DAYLIGHT",
    "END:VTIMEZONE",
]


def entry(n: int) -> str:
    """Entry n: a single visit in the custom zone or in Europe/Amsterdam, on both sides of the
    spring clock changes, or a weekly series across them in the custom zone."""
    custom = n % 2 == 0
    tzid, zone = (CUSTOM_TZID, CUSTOM) if custom else ("Europe/Amsterdam", AMSTERDAM)
    day = 2 + n  # 2027-03-02 .. 2027-03-21: the US change is 03-14, the EU change 03-28
    body = [
        "BEGIN:VEVENT",
        f"UID:zones-{n}",
        "DTSTAMP:20270101T000000Z",
        f"SUMMARY:Visit {n}",
        f"DTSTART;TZID={tzid}:202703{day:02d}T090000",
        f"DTEND;TZID={tzid}:202703{day:02d}T093000",
        *(["RRULE:FREQ=WEEKLY;COUNT=4"] if n % 5 == 0 else []),
        "END:VEVENT",
    ]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Other client//EN", *zone, *body, "END:VCALENDAR", ""]
    return "\r\n".join(lines)


def test_a_listing_reads_each_repeated_zone_once_and_gives_the_times_of_the_whole_text(
    alice_calendar, radicale, monkeypatch
):
    entries = {f"zones-{n}.ics": entry(n) for n in range(20)}
    radicale.write_entries(alice_calendar.calendar_id, entries)
    zones_read = []
    cache = tzp.cache_timezone_component
    monkeypatch.setattr(tzp, "cache_timezone_component", lambda zone: (zones_read.append(zone["TZID"]), cache(zone)))
    provider = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], timeout=60)
    window = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))

    page = provider.list_changes(RemoteCalendar("", alice_calendar.calendar_id), None, window)

    assert sorted(zones_read) == sorted([CUSTOM_TZID, "Europe/Amsterdam"])  # not 20 blocks
    assert len(page.changed) == 20
    for event in page.changed:
        # The whole object the server sent is kept, its zone included (Radicale reorders lines).
        text = event.raw
        assert text.count("BEGIN:VTIMEZONE") == 1 and "Visit" in text
        given = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
            datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
        )
        first = min(given, key=lambda occurrence: occurrence.decoded("dtstart"))
        assert (event.start, event.end) == (first.decoded("dtstart"), first.decoded("dtend"))
        assert event.start.utcoffset() == first.decoded("dtstart").utcoffset()
    by_id = {event.remote_id.rsplit("/", 1)[1]: event for event in page.changed}
    # RFC 5545 3.6.5, read off the block by hand: -05:00 before the second Sunday of March, -04:00 after.
    assert by_id["zones-0.ics"].start == datetime(2027, 3, 2, 14, 0, tzinfo=UTC)
    assert by_id["zones-14.ics"].start == datetime(2027, 3, 16, 13, 0, tzinfo=UTC)
