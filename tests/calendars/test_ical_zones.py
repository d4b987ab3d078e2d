"""calendars.ical_zones: a TZID resolves to its own object's VTIMEZONE (RFC 5545 3.2.19), not to
the first block icalendar read under that name in the process. Expected offsets are the blocks'
own (TZOFFSETTO of their one observance)."""

import threading
from datetime import datetime, timedelta

import icalendar
from icalendar.timezone import tzp

from calendars import ical_zones
from calendars.ical_zones import MAX_BLOCKS_KEPT, block_tzid, keep_blocks, own_zones, zone_of_block


def block(name: str, offset: str) -> str:
    return (
        f"BEGIN:VTIMEZONE\r\nTZID:{name}\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n"
        f"TZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )


def start_offset(name: str, offset: str) -> timedelta:
    """The UTC offset icalendar gives 09:00 on 3 March 2027 in an object whose block is `offset`."""
    text = (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n{block(name, offset)}BEGIN:VEVENT\r\nUID:u\r\n"
        f"DTSTAMP:20270101T000000Z\r\nDTSTART;TZID={name}:20270303T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return icalendar.Calendar.from_ical(text).walk("VEVENT")[0].decoded("dtstart").utcoffset()


def test_icalendar_still_keeps_its_zone_table_where_the_helpdesk_replaces_it():
    """The module reaches into icalendar 7.3's private table; an upgrade that moves it fails here."""
    with own_zones():
        assert isinstance(getattr(tzp, "_TZP__tz_cache"), ical_zones._PerThreadTable)


def test_each_object_read_in_its_own_table_keeps_its_own_offsets():
    name = "Customized Time Zone (ical_zones unit)"
    assert start_offset(name, "+0500") == timedelta(hours=5)  # read outside: icalendar's shared table
    with own_zones():
        assert start_offset(name, "-0300") == timedelta(hours=-3)
    with own_zones():
        assert start_offset(name, "+0100") == timedelta(hours=1)
    # What was read inside stays inside: the shared table still has the first definition.
    assert start_offset(name, "+0900") == timedelta(hours=5)


def test_a_table_is_the_threads_own_and_nesting_restores_the_outer_one():
    name = "Customized Time Zone (threads)"
    seen = {}

    def other_thread():
        seen["other"] = start_offset(name, "+0700")  # no table of its own: the shared one

    with own_zones() as outer:
        assert start_offset(name, "-0600") == timedelta(hours=-6)
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        with own_zones():
            assert start_offset(name, "+0200") == timedelta(hours=2)
        assert name in outer and datetime(2027, 3, 3, 9, tzinfo=outer[name]).utcoffset() == timedelta(hours=-6)
    assert seen["other"] == timedelta(hours=7)


def test_kept_blocks_are_found_by_their_exact_text_and_bounded():
    name = "Customized Time Zone (kept)"
    first, second = block(name, "+0300"), block(name, "-0400")
    with own_zones() as table:
        start_offset(name, "+0300")
    keep_blocks([first, second], table)  # a second block under one name in one object is not kept
    tzid, zone = zone_of_block(first)
    assert (tzid, datetime(2027, 3, 3, 9, tzinfo=zone).utcoffset()) == (name, timedelta(hours=3))
    assert zone_of_block(second) is None and block_tzid(" " + second) == name
    for n in range(MAX_BLOCKS_KEPT):
        keep_blocks([block(f"Filler {n}", "+0100")], {})
    assert zone_of_block(first) is None


def test_a_name_without_its_block_in_the_object_is_not_taken_from_another_object():
    """RFC 5545 3.2.19: without its VTIMEZONE the TZID names no zone here; icalendar then leaves the
    time floating (the reader says so), never another object's block. IANA names still resolve."""
    name = "Customized Time Zone (no block)"
    start_offset(name, "+0400")  # read outside any table: icalendar's shared one keeps it
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20270101T000000Z\r\n"
        f"DTSTART;TZID={name}:20270303T090000\r\nDTEND;TZID=Europe/Amsterdam:20270303T100000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with own_zones():
        event = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
    assert event.decoded("dtstart").tzinfo is None
    assert event.decoded("dtend").utcoffset() == timedelta(hours=1)
