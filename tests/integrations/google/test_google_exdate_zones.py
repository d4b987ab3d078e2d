"""Fault 7 of review 2: an EXDATE's TZID is read like the start's timeZone (IANA or Windows name);
a name no table holds costs a note and that line's wall clock, never the series. Right values:
RFC 5545 3.8.5.1 (EXDATE on its TZID's wall clock) with icalendar's Windows -> Olson table."""

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from integrations.providers.google.mapping import event_from_resource

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _master(exdate_line: str) -> dict:
    return {
        "id": "g1",
        "summary": "Weekly check",
        "start": {"dateTime": "2026-12-07T09:00:00+01:00", "timeZone": "Europe/Amsterdam"},
        "end": {"dateTime": "2026-12-07T10:00:00+01:00", "timeZone": "Europe/Amsterdam"},
        "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO", exdate_line],
    }


def test_an_exdate_with_a_windows_tzid_cancels_its_occurrence_and_the_series_stays_readable():
    event = event_from_resource(_master("EXDATE;TZID=W. Europe Standard Time:20261214T090000"))

    wall_clock = ZoneInfo(WINDOWS_TO_OLSON["W. Europe Standard Time"])
    assert event.rrules == ["FREQ=WEEKLY;BYDAY=MO"]
    assert event.exdates == [datetime(2026, 12, 14, 9, 0, tzinfo=wall_clock)]
    assert event.notes == []


def test_an_exdate_with_an_unknown_tzid_is_named_and_read_on_the_series_zone_keeping_the_series():
    event = event_from_resource(_master("EXDATE;TZID=Mars/Olympus_Mons:20261214T090000"))

    assert event.rrules == ["FREQ=WEEKLY;BYDAY=MO"]
    assert event.start == datetime(2026, 12, 7, 9, 0, tzinfo=AMSTERDAM)
    assert event.exdates == [datetime(2026, 12, 14, 9, 0, tzinfo=AMSTERDAM)]
    assert len(event.notes) == 1
    assert "Mars/Olympus_Mons" in event.notes[0] and "Europe/Amsterdam" in event.notes[0]


def test_an_rdate_with_an_unknown_tzid_is_named_and_read_on_the_series_zone_keeping_the_series():
    # RFC 5545 3.8.5.2: RDATE date-times are in DTSTART's zone, as EXDATE's (3.8.5.1).
    event = event_from_resource(_master("RDATE;TZID=Mars/Olympus_Mons:20261216T090000"))

    assert event.rrules == ["FREQ=WEEKLY;BYDAY=MO"]
    assert event.rdates == [datetime(2026, 12, 16, 9, 0, tzinfo=AMSTERDAM)]
    assert len(event.notes) == 1
    assert "Mars/Olympus_Mons" in event.notes[0] and "Europe/Amsterdam" in event.notes[0]
