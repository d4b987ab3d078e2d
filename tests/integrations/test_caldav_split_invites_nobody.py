"""Review F10: a "this and following" split made in the helpdesk creates the new half on a CalDAV
server from the old half's object (`caldav.from_template`). A series the technician made a meeting
on her phone carries ORGANIZER and ATTENDEE; on a server with implicit scheduling (RFC 6638 3.2: a
PUT of a new organiser object sends iTIP REQUESTs to its attendees) the new half's create would
invite them from the helpdesk. The new half is created without them; the old half, only updated,
keeps them. Read back from Radicale with another CalDAV client (icalendar), not through our code."""

from datetime import timedelta

import icalendar
import pytest

from integrations.models import SyncLink
from tests.integrations.importing import start_importing
from tests.integrations.series import renamed_from_the_fourth
from tests.integrations.test_caldav_sync import pull

pytestmark = pytest.mark.django_db

MEETING = (
    "RRULE:FREQ=DAILY;COUNT=6\r\n"
    "ORGANIZER;CN=Alice:mailto:alice@example.com\r\n"
    "ATTENDEE;CN=Bo;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bo@example.net\r\n"
    "ATTENDEE;CN=Cy;PARTSTAT=ACCEPTED:mailto:cy@example.net\r\n"
    "X-BOOKING-ID:bk-12\r\n"
)


def _master(phone, uid: str) -> icalendar.Event:
    text = phone.by_uid(uid).data
    return next(v for v in icalendar.Calendar.from_ical(text).walk("VEVENT") if "RECURRENCE-ID" not in v)


def test_the_new_half_of_a_split_meeting_invites_nobody(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    alice_phone.add("meeting-1", tomorrow_9, tomorrow_9 + timedelta(hours=1), "Consultation", extra=MEETING)
    pull(start_importing(alice_calendar))

    new = renamed_from_the_fourth(django_capture_on_commit_callbacks, "Consultation (new)")

    made = _master(alice_phone, SyncLink.objects.get(appointment=new).marker)
    assert str(made["SUMMARY"]) == "Consultation (new)"
    assert "ATTENDEE" not in made and "ORGANIZER" not in made, made.to_ical().decode()
    assert str(made["X-BOOKING-ID"]) == "bk-12"  # what else the template carries stays
    old = _master(alice_phone, "meeting-1")
    assert [str(a) for a in old["ATTENDEE"]] == ["mailto:bo@example.net", "mailto:cy@example.net"]
    assert str(old["ORGANIZER"]) == "mailto:alice@example.com"
