"""A "this and following" change made in the helpdesk on a series made on the phone: the new half,
created by the helpdesk, starts from the old half's event as Google held it (as Google's own split
copies the event's properties to the new series, Calendar help "Edit recurring events"), read back
from the local Google server through the real google-api-python-client push."""

from datetime import UTC, timedelta

import pytest

from integrations.models import SyncLink
from integrations.providers.google import MARKER_KEY
from tests.integrations.series import renamed_from_the_fourth
from tests.integrations.test_caldav_sync import pull

from .conftest import ALICE
from .test_google_sync import google_view, when

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
BOOKING = {"private": {"bookingId": "bk-4711"}, "shared": {"bookingTool": "Calendly", "slot": "7"}}
REMINDERS = {"useDefault": False, "overrides": [{"method": "email", "minutes": 1440}]}
SOURCE = {"title": "Booking page", "url": "https://book.example.com/bk-4711"}


def test_both_halves_of_a_split_phone_series_keep_what_the_helpdesk_does_not_model(
    importing_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    """A daily series of 6 made on the phone by a booking tool (its ids in extendedProperties, private
    and shared), with a colour, public visibility, a source link and the user's e-mail reminder, is renamed from its
    fourth day on in the helpdesk. Both masters on the server carry all of it afterwards; the new one
    has its own id, iCalUID and our marker, and the two together show the helpdesk's occurrences
    (`google_view`: recurring-ical-events over the stored lines)."""
    master_id = google.phone_insert(
        ALICE,
        summary="Consultation",
        start=when(tomorrow_9),
        end=when(tomorrow_9 + HOUR),
        recurrence=["RRULE:FREQ=DAILY;COUNT=6"],
        extendedProperties=BOOKING,
        colorId="5",
        visibility="public",
        source=SOURCE,
        reminders=REMINDERS,
    )["id"]
    pull(importing_google)

    new = renamed_from_the_fourth(django_capture_on_commit_callbacks, "Consultation (new)")

    new_link = SyncLink.objects.get(appointment=new)
    assert new_link.remote_id and new_link.remote_id != master_id
    masters = {e["id"]: e for e in google.events(ALICE) if not e.get("recurringEventId")}
    assert set(masters) == {master_id, new_link.remote_id}
    old, made = masters[master_id], masters[new_link.remote_id]
    assert made["iCalUID"] != old["iCalUID"]
    assert made["summary"] == "Consultation (new)"
    for event in (old, made):
        assert event["extendedProperties"]["shared"] == BOOKING["shared"]
        assert event["extendedProperties"]["private"]["bookingId"] == "bk-4711"
        assert (event["colorId"], event["visibility"], event["source"]) == ("5", "public", SOURCE)
        assert event["reminders"] == REMINDERS
    assert made["extendedProperties"]["private"][MARKER_KEY] == new_link.marker
    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=7))
    shown = [(start.astimezone(UTC), subject) for start, _end, subject in google_view(google, *window)]
    assert shown == [(tomorrow_9.astimezone(UTC) + timedelta(days=n), "Consultation") for n in range(3)] + [
        (tomorrow_9.astimezone(UTC) + timedelta(days=n), "Consultation (new)") for n in range(3, 6)
    ]
