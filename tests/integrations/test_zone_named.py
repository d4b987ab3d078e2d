"""Task times, fault 3: each reader says whether it named the start's zone (`RemoteEvent.zone_named`)
or only fell back to one: RFC 5545 3.3.5 form #1 (floating: no zone), a TZID nothing resolves
(3.2.19: it must name a VTIMEZONE; icalendar leaves such a time floating), a VTIMEZONE no IANA zone
matches, Graph's "tzone://Microsoft/Custom" (its dateTimeTimeZone names no zone table holds), a
Google timeZone zoneinfo does not know. UTC written as such (form #2, TZID=UTC, Graph's and Google's
"UTC") is a zone named. The engine's use of it: tests/integrations/test_series_clock_pulled.py and
tests/integrations/graph/test_graph_series_clock_pulled.py."""

import pytest

from integrations.sync import mapping
from tests.integrations.series import OWN_ZONE_BLOCK

OBJECT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Phone//EN\r
{block}BEGIN:VEVENT\r
UID:zone-named-1\r
DTSTAMP:20261201T000000Z\r
DTSTART{start}\r
DTEND{end}\r
RRULE:FREQ=WEEKLY;COUNT=4\r
SUMMARY:Weekly call\r
END:VEVENT\r
END:VCALENDAR\r
"""
# Named uniquely: icalendar keeps one zone per custom TZID for the whole process.
UNMATCHED_TZID = "Customized Time Zone zone-named"


@pytest.mark.parametrize(
    "start, end, block, named",
    [
        (";TZID=Europe/Berlin:20270301T100000", ";TZID=Europe/Berlin:20270301T110000", "", True),
        (";TZID=W. Europe Standard Time:20270301T100000", ";TZID=W. Europe Standard Time:20270301T110000", "", True),
        (":20270301T090000Z", ":20270301T100000Z", "", True),
        (";TZID=UTC:20270301T090000", ";TZID=UTC:20270301T100000", "", True),
        (":20270301T100000", ":20270301T110000", "", False),
        (";TZID=Mars/Olympus_Mons:20270301T100000", ";TZID=Mars/Olympus_Mons:20270301T110000", "", False),
        (
            f";TZID={UNMATCHED_TZID}:20270301T100000",
            f";TZID={UNMATCHED_TZID}:20270301T110000",
            OWN_ZONE_BLOCK.replace("TZID:Customized Time Zone\r\n", f"TZID:{UNMATCHED_TZID}\r\n"),
            False,
        ),
        (";VALUE=DATE:20270301", ";VALUE=DATE:20270302", "", False),
    ],
    ids=["iana", "windows", "utc form", "tzid utc", "floating", "unknown tzid", "unmatched block", "date"],
)
def test_caldav_marks_the_zone_it_named(start, end, block, named):
    from integrations.providers.caldav import read_event

    text = OBJECT.format(start=start, end=end, block=block.rstrip("\r\n") + "\r\n" if block else "")
    event = read_event(text, remote_id="r1")

    assert event.zone_named is named
    # Kept through the link's stored state, so a merge's `after` still carries it.
    assert mapping.from_data(mapping.to_data(event)).zone_named is named


def _graph(zone_name: str) -> dict:
    return {
        "id": "g1",
        "subject": "Weekly call",
        "start": {"dateTime": "2027-03-01T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2027-03-01T10:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": zone_name,
        "originalEndTimeZone": zone_name,
    }


@pytest.mark.parametrize(
    "zone_name, named",
    [("W. Europe Standard Time", True), ("UTC", True), ("tzone://Microsoft/Custom", False), ("", False)],
)
def test_graph_marks_the_zone_it_named(zone_name, named):
    from integrations.providers.graph.mapping import event_from_graph

    assert event_from_graph(_graph(zone_name)).zone_named is named


@pytest.mark.parametrize(
    "zone_name, named", [("Europe/Berlin", True), ("UTC", True), ("Mars/Olympus_Mons", False), (None, False)]
)
def test_google_marks_the_zone_it_named(zone_name, named):
    from integrations.providers.google.mapping import event_from_resource

    zone = {"timeZone": zone_name} if zone_name else {}
    resource = {
        "id": "g1",
        "start": {"dateTime": "2027-03-01T10:00:00+01:00", **zone},
        "end": {"dateTime": "2027-03-01T11:00:00+01:00", **zone},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
    }

    assert event_from_resource(resource, calendar_zone="Europe/Amsterdam").zone_named is named
