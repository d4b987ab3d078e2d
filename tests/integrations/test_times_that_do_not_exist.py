"""A time that does not exist (hour 25, 30 February) is refused by every connector's parser with
a message naming the value (trial 6): RFC 5545 3.3.5 (iCalendar DATE-TIME: hour 00-23) and
RFC 3339 5.6 (Google's dateTime, Graph's dateTimeTimeZone, EWS's xs:dateTime). It used to become an
all-day entry (CalDAV) or a message without the value."""

import copy
import re

import pytest

from integrations.providers.base import UnreadableEntry
from integrations.providers.caldav import read_event
from integrations.providers.google.mapping import event_from_resource
from integrations.providers.graph import mapping as graph_mapping

from .fuzz_inputs import ews_seeds, google_seeds, graph_seeds
from .test_fuzz_inbound import _ews_event

TRIAL_6 = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//trial//EN\r\nBEGIN:VEVENT\r\nUID:hour-25\r\n"
    "DTSTAMP:20261201T000000Z\r\nDTSTART:20261222T250000Z\r\nDTEND:20261222T260000Z\r\nSUMMARY:Hour 25\r\n"
    "{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.mark.parametrize(
    "extra",
    [
        "",  # the plain reading
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\nX-UNKNOWN;P=1:kept\r\n",  # icalendar's reading
    ],
    ids=["plain", "icalendar"],
)
def test_caldav_refuses_hour_25_naming_the_value(extra):
    with pytest.raises(UnreadableEntry, match="DTSTART '20261222T250000Z' is not a date or time that exists"):
        read_event(TRIAL_6.format(extra=extra), remote_id="/alice/hour-25.ics")


def test_caldav_refuses_30_february_in_a_zone_naming_the_value():
    text = TRIAL_6.format(extra="").replace("DTSTART:20261222T250000Z", "DTSTART;TZID=Europe/Amsterdam:20260230T100000")
    with pytest.raises(UnreadableEntry, match="DTSTART '20260230T100000' is not a date or time that exists"):
        read_event(text, remote_id="/alice/feb-30.ics")


def test_google_refuses_hour_25_naming_the_value():
    master = copy.deepcopy(google_seeds()[0][0])
    master["start"] = {"dateTime": "2026-12-22T25:00:00Z", "timeZone": "UTC"}
    with pytest.raises(UnreadableEntry, match="'2026-12-22T25:00:00\\+00:00' is not a date or time that exists"):
        event_from_resource(master, [], calendar_zone="Europe/Amsterdam")


def test_graph_refuses_hour_25_naming_the_value():
    event = copy.deepcopy(graph_seeds()[0][0])
    event["start"] = {"dateTime": "2026-12-22T25:00:00.0000000", "timeZone": "UTC"}
    with pytest.raises(
        UnreadableEntry, match=re.escape("'2026-12-22T25:00:00.000000' is not a date or time that exists")
    ):
        graph_mapping.event_from_graph(event)


def test_ews_refuses_hour_25():
    # exchangelib keeps no value it cannot read as an xs:dateTime (it answers None), so the
    # refusal names the field, not the text.
    xml = ews_seeds()[0].replace(b"<t:Start>2026-12-01T08:00:00Z</t:Start>", b"<t:Start>2026-12-01T25:00:00Z</t:Start>")
    public = xml.replace(b"<t:Sensitivity>Private</t:Sensitivity>", b"<t:Sensitivity>Normal</t:Sensitivity>")
    with pytest.raises(
        UnreadableEntry,
        match="Exchange sent an entry the helpdesk cannot read: its Start is missing or not a date or time that exists",
    ):
        _ews_event(public)
