"""An entry that cannot be read has its reason logged and shown on the sync page (issue 11); for an
entry its calendar marks private that reason must not quote it, in every format the helpdesk reads
(S2.5: private entries show as busy only, to everyone, everywhere). The markings are the formats'
own: RFC 5545 3.8.1.3 CLASS, Graph `sensitivity`, Google `visibility`."""

import pytest

from integrations.providers.base import UnreadableEntry, marks_private
from integrations.providers.caldav import read_event
from integrations.providers.google.mapping import event_from_resource
from integrations.providers.graph.mapping import event_from_graph

SECRET = "Divorce lawyer"


def ical(rrule: str, klass: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//phone//EN\r\nBEGIN:VEVENT\r\nUID:u1\r\n"
        f"CLASS:{klass}\r\nDTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\n"
        f"RRULE:{rrule}\r\nSUMMARY:{SECRET}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def reason(parse) -> str:
    with pytest.raises(UnreadableEntry) as refused:
        parse()
    return str(refused.value)


@pytest.mark.parametrize("klass", ["PRIVATE", "CONFIDENTIAL", "private"])
def test_private_icalendar_entry_that_cannot_be_read_is_not_quoted(klass):
    text = ical(f"FREQ={SECRET}", klass)
    message = reason(lambda: read_event(text, remote_id="/cal/u1.ics"))
    assert SECRET.lower() not in message.lower()
    assert "private entry" in message


def test_public_icalendar_entry_that_cannot_be_read_says_what_is_wrong():
    """The reason stays useful where it may be shown: the rule the parser refused is named."""
    message = reason(lambda: read_event(ical(f"FREQ={SECRET}", "PUBLIC"), remote_id="/cal/u1.ics"))
    assert "repeat rule" in message and SECRET.upper() in message.upper()


@pytest.mark.parametrize("visibility", ["private", "confidential"])
def test_private_google_entry_that_cannot_be_read_is_not_quoted(visibility):
    resource = {
        "id": "g1",
        "status": "confirmed",
        "visibility": visibility,
        "summary": SECRET,
        "start": {"dateTime": f"{SECRET} 09:00"},
        "end": {"dateTime": "2026-12-01T10:00:00Z"},
    }
    message = reason(lambda: event_from_resource(resource, [], calendar_zone="Europe/Amsterdam"))
    assert SECRET.lower() not in message.lower() and "private entry" in message


def test_private_google_exception_of_a_public_series_is_not_quoted():
    master = {
        "id": "g2",
        "status": "confirmed",
        "summary": "Stand-up",
        "start": {"dateTime": "2026-12-01T09:00:00+01:00", "timeZone": "Europe/Amsterdam"},
        "end": {"dateTime": "2026-12-01T09:15:00+01:00", "timeZone": "Europe/Amsterdam"},
        "recurrence": ["RRULE:FREQ=WEEKLY"],
    }
    exception = {
        "id": "g2_20261208T080000Z",
        "recurringEventId": "g2",
        "visibility": "private",
        "summary": SECRET,
        "originalStartTime": {"dateTime": f"{SECRET}"},
        "start": {"dateTime": "2026-12-08T09:00:00+01:00"},
        "end": {"dateTime": "2026-12-08T09:15:00+01:00"},
    }
    message = reason(lambda: event_from_resource(master, [exception], calendar_zone="Europe/Amsterdam"))
    assert SECRET.lower() not in message.lower()


def test_private_graph_entry_that_cannot_be_read_is_not_quoted():
    data = {
        "id": "AAMk1",
        "sensitivity": "private",
        "subject": SECRET,
        "start": {"dateTime": f"{SECRET}", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-01T10:00:00.0000000", "timeZone": "UTC"},
    }
    message = reason(lambda: event_from_graph(data))
    assert SECRET.lower() not in message.lower() and "private entry" in message


def test_private_markings_are_found_in_every_raw_form():
    assert marks_private(ical("FREQ=WEEKLY", "PRIVATE").encode())
    assert marks_private(b"<t:CalendarItem><t:Sensitivity>Confidential</t:Sensitivity></t:CalendarItem>")
    assert marks_private([{"summary": "x"}, [{"visibility": "private"}]])
    assert not marks_private(ical("FREQ=WEEKLY", "PUBLIC"))
    assert not marks_private({"sensitivity": "normal", "summary": "CLASS:PRIVATE"})
