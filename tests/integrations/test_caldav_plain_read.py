"""Issue 14: a plain entry is read without icalendar's component tree (`caldav._read_plain`), and
reads exactly as icalendar reads it.

The reference is the same object read through icalendar's parser (`Calendar.from_ical`, the way
every other entry goes); the objects are the corpus of real clients' entries, the bench's mix
(`sample_entries`) and variations of a plain entry at the edges of the plain shape (escapes,
folding, dates, UTC, floating and unknown zones, alarms)."""

from datetime import date
from pathlib import Path

import pytest

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
    "empty texts": _plain_entry("SUMMARY:", "LOCATION:", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z"),
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
    assert plain_count > 150  # the singles, all-day entries and reminders; series go through icalendar


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.name)
def test_real_clients_entries_read_as_icalendar_reads_them(path):
    plain, full = _both(path.read_text())
    if plain is not None:
        assert (plain, plain.notes) == (full, full.notes)


@pytest.mark.parametrize(
    "lines",
    [
        ("SUMMARY:r", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z", "RRULE:FREQ=DAILY"),
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
        "rule",
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
