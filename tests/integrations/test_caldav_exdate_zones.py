"""Fault 7's kind on CalDAV: EXDATE and RDATE TZIDs are read through the same zone names as
DTSTART (IANA or Windows, RFC 5545 3.8.5.1/3.8.5.2 with icalendar's Windows -> Olson table); a TZID
no table holds is named in a note and its times read on the series' zone, the zone of DTSTART (RFC
5545 3.8.5.1 and 3.8.5.2: EXDATE and RDATE date-times are in DTSTART's zone), as Google reads it
(tests/integrations/google/test_google_exdate_zones.py); the series kept."""

from datetime import datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
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
def test_an_unknown_tzid_on_exdate_and_rdate_is_named_and_read_on_the_series_zone(name):
    line = ("EXDATE" if name == "exdates" else "RDATE") + ";TZID=Mars/Olympus_Mons:20261214T090000"
    event = read_event(SERIES.format(line=line), remote_id="r1")

    assert event.rrules == ["FREQ=WEEKLY;BYDAY=MO"]
    assert event.start == datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert getattr(event, name) == [datetime(2026, 12, 14, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))]
    assert len(event.notes) == 1
    assert "Mars/Olympus_Mons" in event.notes[0] and "Europe/Amsterdam" in event.notes[0]


def test_an_unknown_tzid_cancels_the_occurrence_recurring_ical_events_cancels():
    # recurring-ical-events reads an EXDATE whose TZID it cannot resolve; the occurrence it leaves out
    # is the one the helpdesk must leave out too.
    text = SERIES.format(line="EXDATE;TZID=Mars/Olympus_Mons:20261214T090000")
    shown = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2026, 12, 1), datetime(2026, 12, 29)
    )

    event = read_event(text, remote_id="r1")

    kept = [occurrence["DTSTART"].dt for occurrence in shown]
    assert datetime(2026, 12, 14, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam")) not in kept
    assert event.exdates == [datetime(2026, 12, 14, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))]
