"""A CalDAV listing reads the VTIMEZONE blocks its entries repeat once (RFC 4791 4.1 makes every
calendar object carry its zones) and still gets every entry's times as the whole text gives them.
Expected times come from recurring-ical-events reading each entry's whole text on its own."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import icalendar
import pytest
import recurring_ical_events
from dateutil import tz as dateutil_tz
from icalendar.timezone import tzp

from calendars import times
from calendars.ical_zones import zone_from_block
from integrations.providers.base import RemoteCalendar, Window
from integrations.providers.caldav import CalDAVProvider, merge_calendar, parse_event
from tests.integrations.conftest import USERS
from tests.peers.radicale import AMSTERDAM

pytestmark = pytest.mark.django_db

# A zone no IANA database knows, so only its VTIMEZONE block can give the offsets (-05:00 in
# winter, -04:00 from the second Sunday of March).
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


def outlook_entry(uid: str, offset: str, day: int, tzid: str = "Customized Time Zone") -> str:
    """An invitation as Outlook writes one for a zone it cannot name: TZID "Customized Time Zone",
    whatever the offsets (here a fixed `offset`, "+0500" or "-0300")."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
        "BEGIN:VTIMEZONE",
        f"TZID:{tzid}",
        "BEGIN:STANDARD",
        "DTSTART:16010101T000000",
        f"TZOFFSETFROM:{offset}",
        f"TZOFFSETTO:{offset}",
        "END:STANDARD",
        "END:VTIMEZONE",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20270101T000000Z",
        f"SUMMARY:Invitation {uid}",
        f"DTSTART;TZID={tzid}:202703{day:02d}T090000",
        f"DTEND;TZID={tzid}:202703{day:02d}T100000",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines)


def own_block_start(text: str) -> datetime:
    """DTSTART read on the object's own VTIMEZONE alone, by dateutil's tzical (RFC 5545 3.6.5)."""
    block = text[text.index("BEGIN:VTIMEZONE") : text.index("END:VTIMEZONE") + len("END:VTIMEZONE")] + "\r\n"
    zone = dateutil_tz.tzical(io.StringIO(block)).get()
    local = re.search(r'DTSTART;TZID=(?:"[^"]*"|[^:"]+):(\d{8}T\d{6})', text).group(1)
    return datetime.strptime(local, "%Y%m%dT%H%M%S").replace(tzinfo=zone).astimezone(UTC)


def test_two_organisers_customized_time_zones_each_keep_their_own_offsets(alice_calendar, radicale):
    """Outlook names every zone it cannot name "Customized Time Zone" (RFC 5545 3.2.19: a TZID names
    the VTIMEZONE of its own object). Two organisers' invitations in one calendar, UTC+5 and UTC-3,
    read in one listing and again one by one: each 09:00 is its own block's 09:00. Before, the first
    block read in the process stood for every later one: the UTC-3 invitation came 8 hours early."""
    entries = {
        "east-1.ics": outlook_entry("east-1", "+0500", 2),
        "west-1.ics": outlook_entry("west-1", "-0300", 3),
        "east-2.ics": outlook_entry("east-2", "+0500", 4),
        "west-2.ics": outlook_entry("west-2", "-0300", 5),
    }
    radicale.write_entries(alice_calendar.calendar_id, entries)
    provider = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], timeout=60)
    window = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))

    page = provider.list_changes(RemoteCalendar("", alice_calendar.calendar_id), None, window)
    one_by_one = [parse_event(text, remote_id=name) for name, text in reversed(entries.items())]

    expected = {name: own_block_start(text) for name, text in entries.items()}
    assert expected["west-1.ics"] == datetime(2027, 3, 3, 12, tzinfo=UTC)  # 09:00 at UTC-3
    assert expected["east-1.ics"] == datetime(2027, 3, 2, 4, tzinfo=UTC)  # 09:00 at UTC+5
    assert {event.remote_id.rsplit("/", 1)[1]: event.start for event in page.changed} == expected
    assert {event.remote_id: event.start for event in one_by_one} == expected


def test_an_update_keeps_the_time_of_an_entry_whose_zone_name_another_object_used_first(alice_calendar):
    """Writing the helpdesk's text change into an Outlook invitation must not move its time because
    another object read earlier in the process (by the helpdesk, or by icalendar for anyone else)
    defined the same TZID otherwise. The name is this test's own, so the other object is the
    process's first definition of it."""
    name = "Customized Time Zone (update)"
    other = outlook_entry("other", "+0500", 2, tzid=name)
    icalendar.Calendar.from_ical(other)
    parse_event(other, remote_id="other")
    raw = outlook_entry("mine", "-0300", 3, tzid=name)
    event = parse_event(raw, remote_id="mine")
    event.subject = "Invitation mine (room 2)"

    written = merge_calendar(raw, event)

    assert f"DTSTART;TZID={name}:20270303T090000" in written and "room 2" in written
    assert parse_event(written, remote_id="mine").start == own_block_start(raw) == datetime(2027, 3, 3, 12, tzinfo=UTC)


def test_a_series_in_a_zone_no_iana_zone_matches_keeps_its_block_and_repeats_on_its_clock():
    """Trial F3: a weekly invitation in a custom zone of +03:00, +04:00 from the last Sunday of March
    (no IANA zone has it). Its occurrences are its block's 10:00 before and after that change
    (recurring-ical-events): the entry keeps the block (`zone_block`, what the series repeats on;
    `time_zone` stays UTC for systems that take only IANA zones) and nothing is noted as lost."""
    text = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
            "BEGIN:VTIMEZONE",
            "TZID:Customized Time Zone (no IANA match)",
            "BEGIN:STANDARD",
            "DTSTART:16011028T030000",
            "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
            "TZOFFSETFROM:+0400",
            "TZOFFSETTO:+0300",
            "END:STANDARD",
            "BEGIN:DAYLIGHT",
            "DTSTART:16010325T020000",
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            "TZOFFSETFROM:+0300",
            "TZOFFSETTO:+0400",
            "END:DAYLIGHT",
            "END:VTIMEZONE",
            "BEGIN:VEVENT",
            "UID:weekly-custom",
            "DTSTAMP:20270101T000000Z",
            "SUMMARY:Weekly call",
            "DTSTART;TZID=Customized Time Zone (no IANA match):20270322T100000",
            "DTEND;TZID=Customized Time Zone (no IANA match):20270322T110000",
            "RRULE:FREQ=WEEKLY;COUNT=3",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    given = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC)
    )
    starts = sorted(occurrence.decoded("dtstart").astimezone(UTC) for occurrence in given)

    event = parse_event(text, remote_id="weekly-custom")

    assert event.start == starts[0] == datetime(2027, 3, 22, 7, tzinfo=UTC)
    assert event.time_zone == "UTC" and event.notes == []
    block = text[text.index("BEGIN:VTIMEZONE") : text.index("END:VTIMEZONE") + len("END:VTIMEZONE\r\n")]
    assert event.zone_block == block
    zone = zone_from_block(event.zone_block)
    kept = times.rule_starts(event.start.astimezone(zone), event.rrules, until=datetime(2027, 5, 1, tzinfo=UTC))
    assert [start.astimezone(UTC) for start in kept] == starts
    assert starts[-1] == datetime(2027, 4, 5, 6, tzinfo=UTC)  # 10:00 at +04:00, after the change


def test_a_listing_reads_an_escaped_zone_name_on_its_block_in_every_entry():
    """Outlook writes Windows display names as TZIDs, commas escaped (RFC 5545 3.3.11 TEXT):
    "(UTC+05:00) Ashgabat\\, Tashkent". A listing reads the block once and must still give every
    entry its block's 09:00 (dateutil's tzical on the entry's own block), not a floating time."""
    name = "(UTC+05:00) Ashgabat\\, Tashkent (listing)"
    texts = [outlook_entry(f"escaped-{n}", "+0500", 2 + n, tzid=name) for n in range(3)]
    texts = [text.replace(f";TZID={name}:", ';TZID="(UTC+05:00) Ashgabat, Tashkent (listing)":') for text in texts]
    zones_read: set[str] = set()

    starts = [parse_event(text, remote_id=str(n), zones_read=zones_read).start for n, text in enumerate(texts)]

    assert starts == [own_block_start(text) for text in texts]
    assert starts[1] == datetime(2027, 3, 3, 4, tzinfo=UTC)


def _with_two_blocks(uid: str, first: str, second: str, tzid: str) -> str:
    """An object carrying two VTIMEZONEs under one TZID (RFC 5545 3.2.19/3.6.5 forbid it; an
    external organiser's invitation can still hold it): `first` and `second` offsets."""
    text = outlook_entry(uid, first, 2, tzid=tzid)
    other = outlook_entry(uid, second, 2, tzid=tzid)
    block = other[other.index("BEGIN:VTIMEZONE") : other.index("END:VTIMEZONE") + len("END:VTIMEZONE\r\n")]
    at = text.index("BEGIN:VEVENT")
    return text[:at] + block + text[at:]


def test_an_entry_with_one_tzid_on_two_blocks_does_not_change_how_later_entries_of_the_listing_read():
    """Review 7 F1: entry e2 holds blocks A (+05:00) and B (-03:00), both TZID X. Read after e1 (A),
    its A was cut and X meant A's zone, yet B was kept under it: every later valid entry carrying B
    was read on +05:00, 8 hours wrong. Expected: the victim's 09:00 on its own block (dateutil)."""
    tzid = "Customized Time Zone (two blocks)"
    zones_read: set[str] = set()
    parse_event(outlook_entry("e1", "+0500", 2, tzid=tzid), remote_id="e1", zones_read=zones_read)
    parse_event(_with_two_blocks("e2", "+0500", "-0300", tzid), remote_id="e2", zones_read=zones_read)
    victims = [outlook_entry(f"victim-{n}", "-0300", 3, tzid=tzid) for n in range(2)]

    starts = [parse_event(text, remote_id=f"v{n}", zones_read=zones_read).start for n, text in enumerate(victims)]

    assert starts == [own_block_start(text) for text in victims]
    assert starts[0] == datetime(2027, 3, 3, 12, tzinfo=UTC)


def test_an_entry_with_one_tzid_on_two_blocks_reads_the_same_whatever_the_listing_read_before():
    """The same object read alone, after its first block, or after its second block gives one time
    (before, the block cut from it decided which of its two zones it was read on)."""
    tzid = "Customized Time Zone (order)"
    twice = _with_two_blocks("twice", "+0500", "-0300", tzid)
    readings = [parse_event(twice, remote_id="alone").start]
    for offset in ("+0500", "-0300"):
        zones_read: set[str] = set()
        parse_event(outlook_entry(f"before{offset}", offset, 2, tzid=tzid), remote_id="b", zones_read=zones_read)
        readings.append(parse_event(twice, remote_id=offset, zones_read=zones_read).start)

    assert len(set(readings)) == 1
