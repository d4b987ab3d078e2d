"""Issue 14: a plain entry (simple series included) is read without icalendar's component tree
(`caldav._read_plain`), and reads exactly as icalendar reads it.

The reference is the same object read through icalendar's parser (`Calendar.from_ical`, the way
every other entry goes); the objects are the corpus of real clients' entries, the bench's mix
(`sample_entries`) and variations of a plain entry at the edges of the plain shape (escapes,
folding, dates, UTC, floating and unknown zones, alarms, series with cancelled and moved
occurrences). The bench mix's series read the plain way are also expanded (dateutil) and compared
with what recurring-ical-events makes of the same text."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events
from dateutil.rrule import rrulestr

from integrations.providers import caldav
from tests.peers.radicale import AMSTERDAM, sample_entries

CORPUS = sorted((Path(__file__).resolve().parents[1] / "corpus" / "ical").glob("*.ics"))


def _both(text: str, *, zones_read: bool = False) -> tuple:
    """(plain reading or None, icalendar's reading). `zones_read`: the object's VTIMEZONE blocks
    were read already in this listing and are left out, as `read_event` does."""
    source = caldav._bounded(text)
    if zones_read:
        source = caldav._ZONE_BLOCK.sub("", source)
    plain = caldav._read_plain(source, "/cal/x.ics", '"1"')
    full = caldav._event_from_calendar(source, "/cal/x.ics", '"1"', None)
    return plain, full


def _plain_entry(*lines: str) -> str:
    body = ["BEGIN:VEVENT", "UID:plain-1", "DTSTAMP:20260101T000000Z", *lines, "END:VEVENT"]
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", *body, "END:VCALENDAR"])


VARIATIONS = {
    "zoned": _plain_entry(
        "SUMMARY:Visit", "DTSTART;TZID=Europe/Amsterdam:20261201T080000", "DTEND;TZID=Europe/Amsterdam:20261201T090000"
    ),
    "escapes": _plain_entry(
        r"SUMMARY:a\, b\; c\\d\nnext",
        r"DESCRIPTION:line one\Nline two: with a colon",
        r"LOCATION:Room \"3\"",
        "DTSTART:20261201T080000Z",
        "DTEND:20261201T090000Z",
    ),
    "folded": _plain_entry(
        "SUMMARY:A long subj\r\n ect folded\r\n\tTwice", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z"
    ),
    "dates": _plain_entry("SUMMARY:Holiday", "DTSTART;VALUE=DATE:20261224", "DTEND;VALUE=DATE:20261227"),
    "dates without VALUE": _plain_entry("SUMMARY:Day", "DTSTART:20261224", "DTEND:20261225"),
    "floating": _plain_entry("SUMMARY:Wall clock", "DTSTART:20261201T080000", "DTEND:20261201T083000"),
    "unknown zone": _plain_entry(
        "SUMMARY:?", "DTSTART;TZID=Mars/Olympus:20261201T080000", "DTEND;TZID=Mars/Olympus:20261201T090000"
    ),
    "windows zone": _plain_entry(
        "SUMMARY:W",
        "DTSTART;TZID=W. Europe Standard Time:20261201T080000",
        "DTEND;TZID=W. Europe Standard Time:20261201T090000",
    ),
    "private, free, lower case": _plain_entry(
        "summary:x", "class:confidential", "transp:transparent", "dtstart:20261201T080000Z", "dtend:20261201T090000Z"
    ),
    "end before start": _plain_entry("SUMMARY:b", "DTSTART:20261201T090000Z", "DTEND:20261201T080000Z"),
    "alarm": _plain_entry(
        "SUMMARY:a",
        "DTSTART:20261201T080000Z",
        "DTEND:20261201T090000Z",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:not the entry's",
        "TRIGGER;RELATED=START:-PT1H30M",
        "END:VALARM",
    ),
    "absolute alarm, then relative": _plain_entry(
        "SUMMARY:a",
        "DTSTART:20261201T080000Z",
        "DTEND:20261201T090000Z",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "TRIGGER;VALUE=DATE-TIME:20261201T070000Z",
        "END:VALARM",
        "BEGIN:VALARM",
        "ACTION:AUDIO",
        "TRIGGER:PT5M",
        "END:VALARM",
    ),
    "alarms relative to the end, after the start, Apple's none": _plain_entry(
        "SUMMARY:a",
        "DTSTART:20261201T080000Z",
        "DTEND:20261201T084500Z",
        "BEGIN:VALARM",
        "ACTION:NONE",
        "TRIGGER;VALUE=DATE-TIME:19760401T005545Z",
        "END:VALARM",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "TRIGGER;RELATED=END:PT5M",
        "END:VALARM",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "TRIGGER;RELATED=END:-PT1H",
        "END:VALARM",
    ),
    "empty texts": _plain_entry("SUMMARY:", "LOCATION:", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z"),
    "series": _plain_entry(
        "SUMMARY:s",
        "DTSTART;TZID=Europe/Amsterdam:20261201T080000",
        "DTEND;TZID=Europe/Amsterdam:20261201T090000",
        "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=TU,TH",
    ),
    "series with cancelled dates on three lines": _plain_entry(
        "SUMMARY:s",
        "DTSTART;TZID=Europe/Amsterdam:20261201T080000",
        "DTEND;TZID=Europe/Amsterdam:20261201T090000",
        "RRULE:FREQ=DAILY;UNTIL=20261231T230000Z",
        "EXDATE;TZID=Europe/Amsterdam:20261202T080000,20261203T080000",
        "EXDATE:20261205T070000Z",
        "EXDATE;VALUE=DATE:20261207",
    ),
    "all-day series": _plain_entry(
        "SUMMARY:d", "DTSTART;VALUE=DATE:20261201", "DTEND;VALUE=DATE:20261202", "RRULE:FREQ=MONTHLY;BYMONTHDAY=1"
    ),
    "series with a moved, a cancelled and a private occurrence": _plain_entry(
        "SUMMARY:s",
        "LOCATION:Room 1",
        "DTSTART:20261201T080000Z",
        "DTEND:20261201T090000Z",
        "RRULE:FREQ=WEEKLY",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:plain-1",
        "RECURRENCE-ID:20261215T080000Z",
        "DTSTART:20261215T100000Z",
        "DTEND:20261215T113000Z",
        r"SUMMARY:moved\, later",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:plain-1",
        "RECURRENCE-ID:20261208T080000Z",
        "STATUS:CANCELLED",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:plain-1",
        "RECURRENCE-ID:20261222T080000Z",
        "DTSTART:20261222T080000Z",
        "DTEND:20261222T090000Z",
        "CLASS:PRIVATE",
    ),
}


@pytest.mark.parametrize("name", sorted(VARIATIONS))
def test_a_plain_entry_reads_as_icalendar_reads_it(name):
    plain, full = _both(VARIATIONS[name])
    assert plain is not None, "this entry is of the plain shape"
    assert plain == full
    assert plain.notes == full.notes


def test_the_bench_mix_reads_as_icalendar_reads_it():
    plain_count = 0
    for text in sample_entries(200, date(2026, 11, 30)).values():
        plain, full = _both(text, zones_read=True)
        if plain is not None:
            plain_count += 1
            assert (plain, plain.notes) == (full, full.notes), text
    assert plain_count == 200  # every one: singles, all-day entries, reminders and series


def _occurrences_by_dateutil(event, window) -> list[tuple]:
    """(start, end) in UTC of a timed series read the plain way, expanded by dateutil: the rule's
    starts on the series' wall clock, less EXDATEs, moved occurrences where they went."""
    zone = event.start.tzinfo
    first = event.start.replace(tzinfo=None)
    length = event.end - event.start
    rule = rrulestr(event.rrules[0], dtstart=first)
    cancelled = {moment.astimezone(UTC) for moment in event.exdates}
    moved = {o.original_start.astimezone(UTC): o for o in event.overrides}
    found = []
    for wall in rule.between(window[0].replace(tzinfo=None) - timedelta(days=1), window[1].replace(tzinfo=None)):
        start = wall.replace(tzinfo=zone).astimezone(UTC)
        if start in cancelled:
            continue
        if start in moved:
            found.append((moved[start].start.astimezone(UTC), moved[start].end.astimezone(UTC)))
        else:
            found.append((start, (wall.replace(tzinfo=zone) + length).astimezone(UTC)))
    return sorted(span for span in found if window[0] <= span[0] < window[1])


def test_the_bench_mix_series_read_plain_make_what_recurring_ical_events_makes():
    window = (datetime(2026, 11, 30, tzinfo=UTC), datetime(2027, 11, 30, tzinfo=UTC))
    series = 0
    for text in sample_entries(200, date(2026, 11, 30)).values():
        source = caldav._ZONE_BLOCK.sub("", caldav._bounded(text))  # read already, as in a listing
        if "\nRRULE:" not in source:
            continue
        event = caldav._read_plain(source, "/cal/x.ics", None)
        assert event is not None and event.is_recurring
        series += 1
        expected = sorted(
            (found.decoded("dtstart").astimezone(UTC), found.decoded("dtend").astimezone(UTC))
            for found in recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(*window)
        )
        assert _occurrences_by_dateutil(event, window) == expected, text
    assert series == 8


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.name)
def test_real_clients_entries_read_as_icalendar_reads_them(path):
    plain, full = _both(path.read_text())
    if plain is not None:
        assert (plain, plain.notes) == (full, full.notes)


@pytest.mark.parametrize(
    "lines",
    [
        ("SUMMARY:r", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z", "RDATE:20261205T080000Z"),
        ("SUMMARY:r", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z", "RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY"),
        (
            "SUMMARY:r",
            "DTSTART:20261201T080000Z",
            "DTEND:20261201T090000Z",
            "RRULE:FREQ=DAILY",
            "END:VEVENT",
            "BEGIN:VEVENT",
            "UID:plain-1",
            "RECURRENCE-ID;RANGE=THISANDFUTURE:20261203T080000Z",
            "DTSTART:20261203T100000Z",
            "DTEND:20261203T110000Z",
        ),
        (
            "SUMMARY:r",
            "DTSTART:20261201T080000Z",
            "DTEND:20261201T090000Z",
            "END:VEVENT",
            "BEGIN:VEVENT",
            "UID:plain-1",
            "RECURRENCE-ID:20261201T080000Z",
            "DTSTART:20261201T100000Z",
            "DTEND:20261201T110000Z",
        ),
        ("SUMMARY:r", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z", "EXDATE;RANGE=X:20261201T080000Z"),
        ("SUMMARY;LANGUAGE=en:r", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z"),
        ("SUMMARY:one", "SUMMARY:two", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z"),
        ("SUMMARY:d", "DTSTART:20261201T080000Z", "DURATION:PT1H"),
        ("SUMMARY:d", 'DTSTART;TZID="Europe/Amsterdam":20261201T080000', "DTEND:20261201T090000Z"),
        ("SUMMARY:d", "DTSTART;VALUE=DATE:20261201", "DTEND:20261201T090000Z"),
        ("SUMMARY:d", "DTSTART:not a time", "DTEND:20261201T090000Z"),
        ("SUMMARY:v", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z", "BEGIN:VTODO", "END:VTODO"),
        ("SUMMARY:z", f"DTSTART;TZID={'x' * 300}:20261201T080000", "DTEND:20261201T090000Z"),
        ("SUMMARY:s", "DTSTART;TZID= Europe/Amsterdam:20261201T080000", "DTEND:20261201T090000Z"),
        ("SUMMARY:s", "DTSTART;TZID=Europe/Amsterdam :20261201T080000", "DTEND:20261201T090000Z"),
    ],
    ids=[
        "extra date",
        "two rules",
        "this and future",
        "override of an entry that does not repeat",
        "cancelled date with another parameter",
        "parameter",
        "twice",
        "duration",
        "quoted",
        "mixed kinds",
        "bad time",
        "nested",
        "long zone",
        "blank before",
        "blank after",
    ],
)
def test_anything_else_goes_to_icalendar(lines):
    assert caldav._read_plain(_plain_entry(*lines), "/cal/x.ics", None) is None


def test_an_object_that_still_holds_its_zone_block_goes_to_icalendar():
    """icalendar reads each VTIMEZONE block once (`read_event`'s zones_read), the plain way none."""
    text = VARIATIONS["zoned"].replace("PRODID:-//t//EN", "PRODID:-//t//EN\r\n" + "\r\n".join(AMSTERDAM))
    assert caldav._read_plain(text, "/cal/x.ics", None) is None
