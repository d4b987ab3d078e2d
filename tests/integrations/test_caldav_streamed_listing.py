"""A CalDAV listing is read as the answer arrives (each member let go once read, issue 14), and
still gives every member of a big calendar, its etag, its whole text and the sync token. Expected
values come from the caldav library's own PROPFIND (RFC 4918 9.1, RFC 6578 4) and GET of each
entry, parsed here with lxml, against a real Radicale that sends its answers gzip-compressed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import caldav
import pytest

from integrations.providers.base import RemoteCalendar, Window
from integrations.providers.caldav import _STREAM_CHUNK, CalDAVProvider
from tests.integrations.conftest import USERS
from tests.peers.radicale import sample_entries

pytestmark = pytest.mark.django_db

DAV = "{DAV:}"
ETAGS = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
TOKEN = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:sync-token/></d:prop></d:propfind>'


def test_a_listing_many_reads_long_gives_every_member_its_etag_its_text_and_the_sync_token(alice_calendar, radicale):
    url = alice_calendar.calendar_id
    radicale.write_entries(url, sample_entries(400, date.today() + timedelta(days=1), prefix="streamed"))
    client = caldav.DAVClient(url=radicale.url, username="helpdesk", password=USERS["helpdesk"])
    listed = client.propfind(url, ETAGS, depth=1).tree
    expected = {
        urlsplit(member.findtext(DAV + "href")).path: member.findtext(f".//{DAV}getetag")
        for member in listed.iter(DAV + "response")
        if member.findtext(DAV + "href").endswith(".ics")
    }
    token = client.propfind(url, TOKEN, depth=0).tree.findtext(f".//{DAV}sync-token").strip()
    assert len(expected) == 400 and token

    provider = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], timeout=60)
    window = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    page = provider.list_changes(RemoteCalendar("", url), None, window)

    assert page.next_token == token
    assert not page.unreadable and not page.deleted
    assert {event.remote_id: event.version for event in page.changed} == expected
    # The answer is many parser reads long, so members are read (and let go) across reads.
    assert sum(len(event.raw) for event in page.changed) > 3 * _STREAM_CHUNK
    for event in page.changed[::37]:
        # XML gives line ends as LF (XML 1.0 2.11); the entry's text is the server's otherwise.
        served = client.request(radicale.url.rstrip("/") + event.remote_id, "GET").raw
        assert event.raw == served.replace("\r\n", "\n")


def test_a_listing_by_token_gives_the_members_changed_and_removed_since(alice_calendar, radicale):
    url = alice_calendar.calendar_id
    radicale.write_entries(url, sample_entries(120, date.today() + timedelta(days=1), prefix="before"))
    provider = CalDAVProvider(radicale.url, "helpdesk", USERS["helpdesk"], timeout=60)
    window = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    first = provider.list_changes(RemoteCalendar("", url), None, window)
    client = caldav.DAVClient(url=radicale.url, username="helpdesk", password=USERS["helpdesk"])
    removed = sorted(event.remote_id for event in first.changed)[:3]
    for path in removed:
        client.delete(radicale.url.rstrip("/") + path)
    radicale.write_entries(url, sample_entries(2, date.today() + timedelta(days=2), prefix="after"))
    token = client.propfind(url, TOKEN, depth=0).tree.findtext(f".//{DAV}sync-token").strip()

    page = provider.list_changes(RemoteCalendar("", url), first.next_token, window)

    assert page.next_token == token != first.next_token
    assert sorted(page.deleted) == removed
    assert sorted(event.remote_id.rsplit("/", 1)[1] for event in page.changed) == ["after-00000.ics", "after-00001.ics"]
