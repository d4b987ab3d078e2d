"""Exchange: a calendar folder's id in a second form. Folder ids are not immutable
(learn.microsoft.com/graph/outlook-immutable-id: containers keep no immutable id) and may come back in
another form: an item's ParentFolderId (GetItem) may name the linked folder by a form that is neither
the stored id nor the one GetFolder gives. `get` must still find the item; only a folder Exchange
confirms to be another one makes it "not there". The peer's `folder_id_second_form` switch gives
ParentFolderId in a second form; which folder holds which item is the peer's own store."""

from datetime import timedelta

import pytest

from calendars import services as calendar_services
from integrations.models import SyncLink
from integrations.providers.base import RemoteCalendar, RemoteRef, TransientError
from tests.integrations.relink_scenarios import kept_once_after_a_refused_push, relinked_entries_are_made_there_once
from tests.integrations.test_caldav_sync import make

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def test_get_finds_an_item_whose_folder_comes_in_a_second_form(provider, calendar, ews, tomorrow_9):
    other = ews.add_calendar_folder(ALICE, "Helpdesk")
    hour = timedelta(hours=1)
    in_default = ews.outlook_create(ALICE, subject="Dentist", start=tomorrow_9, end=tomorrow_9 + hour)
    in_other = ews.outlook_create(ALICE, subject="Rota", start=tomorrow_9, end=tomorrow_9 + hour, folder=other)
    elsewhere = RemoteCalendar(calendar.mailbox, other)
    ews.folder_id_second_form = True

    assert provider.get(calendar, RemoteRef(in_default, None)).subject == "Dentist"
    assert provider.get(elsewhere, RemoteRef(in_other, None)).subject == "Rota"
    # Confirmed to be another folder of the mailbox: not there.
    assert provider.get(elsewhere, RemoteRef(in_default, None)) is None
    assert provider.get(calendar, RemoteRef(in_other, None)) is None


def test_get_that_cannot_tell_the_folder_is_unanswered_not_gone(provider, calendar, ews, tomorrow_9):
    """Exchange will not say which folder the ParentFolderId names: TransientError, never None."""
    item = ews.outlook_create(ALICE, subject="Dentist", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1))
    ews.folder_id_second_form = "unresolvable"

    with pytest.raises(TransientError):
        provider.get(calendar, RemoteRef(item, None))


def test_a_refused_push_read_again_keeps_the_appointment_when_the_folder_id_has_a_second_form(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """A stale change key on a push (ErrorIrresolvableConflict) is decided again on the item as
    read now (`_decide_again`): an item of the linked folder read with its ParentFolderId in a
    second form is that item, neither deleted nor made a second time."""
    appointment = make(alice_exchange.agent, tomorrow_9, django_capture_on_commit_callbacks)
    remote_id = SyncLink.objects.get().remote_id
    ews.outlook_update(ALICE, remote_id, categories=["Red category"])
    ews.folder_id_second_form = True

    with django_capture_on_commit_callbacks(execute=True):  # the push holds the old change key
        calendar_services.update_appointment(appointment, subject="Changed in the helpdesk")

    entries = [(item.item_id, item.subject) for item in ews.items(ALICE)]
    kept_once_after_a_refused_push(entries, remote_id, "Changed in the helpdesk")


def test_a_relink_with_folder_ids_in_a_second_form_still_re_creates_the_entries(
    admin_client, alice_exchange, ews, tomorrow_9
):
    ews.folder_id_second_form = True
    relinked_entries_are_made_there_once(admin_client, alice_exchange, ews, tomorrow_9)
