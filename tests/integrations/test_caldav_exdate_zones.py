"""Fault 7's kind on CalDAV: EXDATE and RDATE TZIDs are read through the same zone names as
DTSTART (IANA or Windows, RFC 5545 3.8.5.1/3.8.5.2 with icalendar's Windows -> Olson table); a TZID
no table holds is named in a note and its times read on the technician's wall clock (RFC 5545
3.3.5), the series kept."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from integrations.providers.caldav import read_event

SERIES = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example//Phone//EN
BEGIN:VEVENT
UID:zone-series-1
DTSTAMP:20261201T000000Z
DTSTART;TZID=Europe/Amsterdam:20261207T090000
DTEND;TZID=Europe/Amsterdam:20261207T100000
RRULE:FREQ=WEEKLY;BYDAY=MO
{line}
SUMMARY:Weekly check
END:VEVENT
END:VCALENDAR
"""


@pytest.mark.parametrize("name", ["exdates", "rdates"])
def test_a_windows_tzid_on_exdate_and_rdate_reads_on_that_zone(name):
    line = ("EXDATE" if name == "exdates" else "RDATE") + ";TZID=W. Europe Standard Time:20261214T090000"
    event = read_event(SERIES.format(line=line), remote_id="r1")

    assert getattr(event, name) == [
        datetime(2026, 12, 14, 9, 0, tzinfo=ZoneInfo(WINDOWS_TO_OLSON["W. Europe Standard Time"]))
    ]
    assert event.notes == []


@pytest.mark.parametrize("name", ["exdates", "rdates"])
def test_an_unknown_tzid_on_exdate_and_rdate_is_named_and_the_series_kept(name):
    line = ("EXDATE" if name == "exdates" else "RDATE") + ";TZID=Mars/Olympus_Mons:20261214T090000"
    event = read_event(SERIES.format(line=line), remote_id="r1")

    assert event.rrules == ["FREQ=WEEKLY;BYDAY=MO"]
    assert event.start == datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert getattr(event, name) == [datetime(2026, 12, 14, 9, 0)]  # floating: the technician's wall clock
    assert len(event.notes) == 1 and "Mars/Olympus_Mons" in event.notes[0]
