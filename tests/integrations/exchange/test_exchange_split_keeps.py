"""A "this and following" change made in the helpdesk on a series made in Outlook: the new half,
created by the helpdesk over EWS (exchangelib), starts from the old half as last read, as Outlook's
own split keeps the series' categories on the new one; read back from the local Exchange server."""

from datetime import timedelta

import pytest

from integrations.models import SyncLink, SyncLogEntry
from integrations.providers.base import ProviderError, TransientError
from integrations.providers.exchange import HelpdeskLinkId
from tests.integrations.series import renamed_from_the_fourth
from tests.integrations.test_caldav_sync import pull
from tests.peers.ews import Recurrence

from .conftest import ALICE

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
CATEGORIES = ["Customer", "Booked online"]


def split_outlook_series(ews, importing_exchange, tomorrow_9, capture_on_commit, **fields):
    """A daily series of 6 made in Outlook with `fields` (Item attributes), pulled, then renamed
    from its fourth day on in the helpdesk. Returns (the old master, the new one, the new link)."""
    old_id = ews.outlook_create(
        ALICE,
        subject="Consultation",
        start=tomorrow_9,
        end=tomorrow_9 + HOUR,
        recurrence=Recurrence(pattern="DailyRecurrence", range="NumberedRecurrence", count=6),
        **fields,
    )
    pull(importing_exchange)

    new = renamed_from_the_fourth(capture_on_commit, "Consultation (new)")

    link = SyncLink.objects.get(appointment=new)
    masters = {item.item_id: item for item in ews.items(ALICE) if item.recurrence is not None}
    assert set(masters) == {old_id, link.remote_id}
    return masters[old_id], masters[link.remote_id], link


def test_both_halves_of_a_split_outlook_series_keep_their_categories(
    importing_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    """A daily series of 6 made in Outlook with two colour categories is renamed from its fourth day
    on in the helpdesk. Both series masters in the mailbox carry the categories afterwards; the new
    one is another item (its own id and UID) with our marker, and Outlook shows the helpdesk's six
    occurrences, three under each name."""
    old, made, _ = split_outlook_series(
        ews, importing_exchange, tomorrow_9, django_capture_on_commit_callbacks, categories=list(CATEGORIES)
    )
    assert made.uid != old.uid
    assert [item.categories for item in (old, made)] == [CATEGORIES, CATEGORIES]
    shown = sorted(
        (o.start, o.subject) for o in ews.calendar_view(ALICE, tomorrow_9 - HOUR, tomorrow_9 + 7 * 24 * HOUR)
    )
    assert shown == [(tomorrow_9 + timedelta(days=n), "Consultation") for n in range(3)] + [
        (tomorrow_9 + timedelta(days=n), "Consultation (new)") for n in range(3, 6)
    ]


SET = "2f1c5e4a-8b7d-4c3e-9a6f-1d2e3f4a5b6c"  # a booking tool's own property set
THEIRS = {
    (SET, "BookingReference", "String"): "BK-20931",
    (SET, "VisitCount", "Integer"): "3",
    (SET, "CrmTags", "StringArray"): ["key account", "renewal due"],
    (SET, "BookedAt", "SystemTime"): "2027-01-04T08:15:00Z",
    (SET, "Receipt", "Binary"): "AQIDBP8=",  # xs:base64Binary
    (SET, "Price", "Double"): "49.5",
}


def test_the_new_half_of_a_split_keeps_the_extended_properties_of_other_tools(
    importing_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks, settings
):
    """A booking tool's reference, visit count, booking time, receipt and price and a CRM's tags
    (multi-valued) on a daily series made in Outlook, named in SYNC_KEPT_EXTENDED_PROPERTIES (EWS
    returns an extended property only when asked for by its t:ExtendedFieldURI). Renamed from its
    fourth day on in the helpdesk, the new series master carries them all as the old one has them,
    and our link id, its own."""
    settings.SYNC_KEPT_EXTENDED_PROPERTIES = [f"{kind} {{{SET}}} Name {name}" for _, name, kind in THEIRS]
    old, made, link = split_outlook_series(
        ews, importing_exchange, tomorrow_9, django_capture_on_commit_callbacks, extended=dict(THEIRS)
    )
    ours = [key for key in made.extended if key[1] == HelpdeskLinkId.property_name]
    assert {key: value for key, value in made.extended.items() if key not in ours} == THEIRS
    assert [made.extended[key] for key in ours] == [link.marker]
    assert old.extended == THEIRS


def test_a_kept_property_exchangelib_refuses_is_refused_in_the_sync_log_of_a_worker(
    importing_exchange, ews, tomorrow_9, settings
):
    """A worker runs no system check: a kept property with Id 0 (Graph's form, but exchangelib
    takes a zero property_id as none and refuses the field) is refused at the first EWS read, with
    the check's message naming the value in the calendar's sync log, and nothing is read; a plain
    ProviderError, not retried."""
    ews.outlook_create(ALICE, subject="Consultation", start=tomorrow_9, end=tomorrow_9 + HOUR)
    settings.SYNC_KEPT_EXTENDED_PROPERTIES = [f"Integer {{{SET}}} Id 0x0"]

    with pytest.raises(ProviderError) as refusal:
        pull(importing_exchange)

    assert not isinstance(refusal.value, TransientError)
    assert str(refusal.value).startswith(
        f"SYNC_KEPT_EXTENDED_PROPERTIES: 'Integer {{{SET}}} Id 0x0' is refused by Exchange's client"
    )
    importing_exchange.refresh_from_db()
    assert importing_exchange.last_error == str(refusal.value)
    assert list(SyncLogEntry.objects.filter(agent_calendar=importing_exchange).values_list("result", "message")) == [
        (SyncLogEntry.Result.ERROR, str(refusal.value))
    ]
    assert not SyncLink.objects.exists()
