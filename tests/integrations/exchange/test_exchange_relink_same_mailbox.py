"""Exchange: a calendar relinked to another calendar folder of the same mailbox (relink_scenarios),
and what EWS's `get` reads of an item of another folder."""

from collections import Counter
from datetime import timedelta

import pytest

from tests.integrations.relink_scenarios import (
    push_before_the_first_listing_leaves_the_old_calendar,
    relinked_entries_are_made_there_once,
)
from tests.peers.ews import decode_id

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def test_relinking_to_another_calendar_folder_of_the_mailbox_re_creates_the_entries_there_once(
    admin_client, alice_exchange, ews, tomorrow_9
):
    relinked_entries_are_made_there_once(admin_client, alice_exchange, ews, tomorrow_9)


def test_get_reads_an_item_of_the_linked_folder_only(provider, calendar, ews, tomorrow_9):
    """GetItem answers an item of any folder of the mailbox: `get` takes one whose ParentFolderId is
    another folder as not there, one of the linked folder as it is, and a folder named by its
    distinguished id "calendar" is the default Calendar folder's id (GetFolder)."""
    from exchangelib.folders import Calendar, Root
    from exchangelib.properties import ParentFolderId

    from integrations.providers.base import RemoteCalendar, RemoteRef

    other = ews.add_calendar_folder(ALICE, "Helpdesk")
    hour = timedelta(hours=1)
    in_default = ews.outlook_create(ALICE, subject="Dentist", start=tomorrow_9, end=tomorrow_9 + hour)
    in_other = ews.outlook_create(ALICE, subject="Rota", start=tomorrow_9, end=tomorrow_9 + hour, folder=other)
    elsewhere = RemoteCalendar(calendar.mailbox, other)

    assert provider.get(elsewhere, RemoteRef(in_default, None)) is None
    assert provider.get(calendar, RemoteRef(in_other, None)) is None
    assert provider.get(elsewhere, RemoteRef(in_other, None)).subject == "Rota"
    assert provider.get(calendar, RemoteRef(in_default, None)).subject == "Dentist"
    distinguished = Calendar(root=Root(account=provider._account(ALICE)), id="calendar")
    assert provider._in_folder(distinguished, ParentFolderId(id=calendar.calendar_id))
    assert not provider._in_folder(distinguished, ParentFolderId(id=other))


def test_a_push_before_the_first_listing_after_a_relink_leaves_the_old_folder(
    admin_client, alice_exchange, ews, tomorrow_9
):
    def subjects_in(folder_id: str) -> Counter:
        key = decode_id(folder_id)[2]
        return Counter(item.subject for item in ews.items(ALICE) if item.folder == key)

    push_before_the_first_listing_leaves_the_old_calendar(admin_client, alice_exchange, ews, tomorrow_9, subjects_in)


def test_relinking_with_the_tick_box_removes_the_helpdesks_entries_from_the_old_calendar(
    admin_client, alice_exchange, ews, tomorrow_9
):
    relinked_entries_are_made_there_once(admin_client, alice_exchange, ews, tomorrow_9, remove_old=True)
