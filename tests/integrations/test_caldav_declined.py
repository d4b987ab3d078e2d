"""A CalDAV entry the technician declined (their ATTENDEE with PARTSTAT=DECLINED on the series' own
VEVENT, RFC 5545 3.2.12 and 3.8.4.1; a phone keeps the declined invitation, RFC 5546 3.2.3) reads as
declined whether it comes in a listing, alone through `get` or found by its UID, which the engine uses for single
reads; an accepted one does not."""

from datetime import UTC, datetime, timedelta

import pytest

from integrations.providers.base import RemoteCalendar, RemoteRef, Window
from integrations.providers.caldav import CalDAVProvider
from tests.integrations.conftest import USERS

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
WINDOW = Window(START - timedelta(days=30), START + timedelta(days=30))


def _invitation(phone, mailbox: str, uid: str, partstat: str) -> None:
    extra = f"ORGANIZER:mailto:carol@example.com\r\nATTENDEE;PARTSTAT={partstat}:mailto:{mailbox}\r\n"
    phone.add(uid, START, START + timedelta(hours=1), "Supplier visit", extra=extra)


@pytest.mark.parametrize(("partstat", "declined"), [("DECLINED", True), ("ACCEPTED", False)])
def test_get_of_an_invitation_says_declined_as_the_listing_does(
    alice, alice_calendar, alice_phone, radicale, partstat, declined
):
    _invitation(alice_phone, alice.mailbox, f"invite-{partstat.lower()}", partstat)
    provider = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], timeout=60)
    calendar = RemoteCalendar(alice.mailbox, alice_calendar.calendar_id)

    listed = provider.list_changes(calendar, None, WINDOW).changed
    alone = provider.get(calendar, RemoteRef(listed[0].remote_id, None))

    assert [event.declined for event in listed] == [declined]
    assert alone.declined is declined


@pytest.mark.parametrize(("partstat", "declined"), [("DECLINED", True), ("ACCEPTED", False)])
def test_find_by_marker_says_declined_as_get_does(alice, alice_calendar, alice_phone, radicale, partstat, declined):
    # Review 17: the object found by its UID (RFC 4791 7.8.6) read without the owner never said declined.
    uid = f"helpdesk-invite-{partstat.lower()}"
    _invitation(alice_phone, alice.mailbox, uid, partstat)
    provider = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], timeout=60)
    calendar = RemoteCalendar(alice.mailbox, alice_calendar.calendar_id)

    found = provider.find_by_marker(calendar, uid)

    assert found is not None and found.declined is declined
