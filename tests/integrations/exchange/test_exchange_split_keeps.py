"""A "this and following" change made in the helpdesk on a series made in Outlook: the new half,
created by the helpdesk over EWS (exchangelib), starts from the old half as last read, as Outlook's
own split keeps the series' categories on the new one; read back from the local Exchange server."""

from datetime import timedelta

import pytest

from integrations.models import SyncLink
from tests.integrations.series import renamed_from_the_fourth
from tests.integrations.test_caldav_sync import pull
from tests.peers.ews import Recurrence

from .conftest import ALICE

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
CATEGORIES = ["Customer", "Booked online"]


def test_both_halves_of_a_split_outlook_series_keep_their_categories(
    importing_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """A daily series of 6 made in Outlook with two colour categories is renamed from its fourth day
    on in the helpdesk. Both series masters in the mailbox carry the categories afterwards; the new
    one is another item (its own id and UID) with our marker, and Outlook shows the helpdesk's six
    occurrences, three under each name."""
    old_id = ews.outlook_create(
        ALICE,
        subject="Consultation",
        start=tomorrow_9,
        end=tomorrow_9 + HOUR,
        recurrence=Recurrence(pattern="DailyRecurrence", range="NumberedRecurrence", count=6),
        categories=list(CATEGORIES),
    )
    pull(importing_exchange)

    new = renamed_from_the_fourth(django_capture_on_commit_callbacks, "Consultation (new)")

    link = SyncLink.objects.get(appointment=new)
    masters = {item.item_id: item for item in ews.items(ALICE) if item.recurrence is not None}
    assert set(masters) == {old_id, link.remote_id}
    old, made = masters[old_id], masters[link.remote_id]
    assert made.uid != old.uid
    assert [item.categories for item in (old, made)] == [CATEGORIES, CATEGORIES]
    shown = sorted(
        (o.start, o.subject) for o in ews.calendar_view(ALICE, tomorrow_9 - HOUR, tomorrow_9 + 7 * 24 * HOUR)
    )
    assert shown == [(tomorrow_9 + timedelta(days=n), "Consultation") for n in range(3)] + [
        (tomorrow_9 + timedelta(days=n), "Consultation (new)") for n in range(3, 6)
    ]
