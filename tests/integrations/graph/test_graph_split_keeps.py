"""A "this and following" change made in the helpdesk on a series made in Outlook: the new half,
created by the helpdesk, starts from the old half's event as Microsoft 365 returned it, as Outlook's
own split keeps the event's properties on the new series; read back from the local Graph server."""

from datetime import UTC, timedelta

import pytest

from integrations.models import SyncLink, SyncLogEntry
from integrations.providers.base import ProviderError, TransientError
from integrations.providers.graph.mapping import MARKER_PROPERTY_ID
from tests.integrations.series import renamed_from_the_fourth
from tests.integrations.test_caldav_sync import pull

from .conftest import ALICE

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
KEPT = {
    "categories": ["Customer", "Booked online"],
    "importance": "high",
    "sensitivity": "confidential",
    "showAs": "tentative",
    "isReminderOn": True,
    "reminderMinutesBeforeStart": 45,
}


def test_both_halves_of_a_split_outlook_series_keep_what_the_helpdesk_does_not_model(
    importing_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    """A daily series of 6 made in Outlook with two categories, high importance, confidential,
    shown tentative, the user's 45-minute reminder, is renamed from its fourth day on in the
    helpdesk. Both series masters in the mailbox carry all of it afterwards; the new one has its
    own id and iCalUId, our marker and the pattern from the fourth day (the helpdesk's)."""
    first = tomorrow_9.astimezone(UTC)
    recurrence = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": first.date().isoformat(), "numberOfOccurrences": 6},
    }
    old_id = graph.outlook_add(ALICE, first, first + HOUR, "Consultation", recurrence=recurrence, **KEPT)["id"]
    pull(importing_graph)

    new = renamed_from_the_fourth(django_capture_on_commit_callbacks, "Consultation (new)")

    link = SyncLink.objects.get(appointment=new)
    masters = {e["id"]: e for e in graph.events(ALICE) if e.get("type") == "seriesMaster"}
    assert set(masters) == {old_id, link.remote_id}
    old, made = masters[old_id], masters[link.remote_id]
    assert made["iCalUId"] != old["iCalUId"]
    assert made["subject"] == "Consultation (new)"
    for event in (old, made):
        assert {name: event[name] for name in KEPT} == KEPT
    assert {p["id"]: p["value"] for p in made["singleValueExtendedProperties"]} == {MARKER_PROPERTY_ID: link.marker}
    assert made["recurrence"]["range"]["startDate"] == (first + timedelta(days=3)).date().isoformat()


BOOKING = "String {2f1c5e4a-8b7d-4c3e-9a6f-1d2e3f4a5b6c} Name BookingReference"
CRM_TAGS = "StringArray {2f1c5e4a-8b7d-4c3e-9a6f-1d2e3f4a5b6c} Name CrmTags"
VISITS = "Integer {00020329-0000-0000-c000-000000000046} Name VisitCount"


def test_the_new_half_of_a_split_keeps_the_extended_properties_of_other_tools(
    importing_graph, graph, tomorrow_9, django_capture_on_commit_callbacks, settings
):
    """A booking tool's reference and visit count (single-valued) and a CRM's tags (multi-valued)
    on a daily series made in Outlook, named in SYNC_KEPT_EXTENDED_PROPERTIES (Graph reads an
    extended property only when asked for by its id). Renamed from its fourth day on in the
    helpdesk, the new series master carries all three as the old one has them, and our marker
    with the new half's own link id, not the old one's."""
    settings.SYNC_KEPT_EXTENDED_PROPERTIES = [BOOKING, CRM_TAGS, VISITS]
    first = tomorrow_9.astimezone(UTC)
    recurrence = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": first.date().isoformat(), "numberOfOccurrences": 6},
    }
    theirs = {BOOKING: "BK-20931", VISITS: "3"}
    tags = {CRM_TAGS: ["key account", "renewal due"]}
    old_id = graph.outlook_add(
        ALICE,
        first,
        first + HOUR,
        "Consultation",
        recurrence=recurrence,
        singleValueExtendedProperties=[{"id": i, "value": v} for i, v in theirs.items()],
        multiValueExtendedProperties=[{"id": i, "value": v} for i, v in tags.items()],
    )["id"]
    pull(importing_graph)
    old_link = SyncLink.objects.get(remote_id=old_id)

    new = renamed_from_the_fourth(django_capture_on_commit_callbacks, "Consultation (new)")

    link = SyncLink.objects.get(appointment=new)
    masters = {e["id"]: e for e in graph.events(ALICE) if e.get("type") == "seriesMaster"}
    assert set(masters) == {old_id, link.remote_id}
    made = masters[link.remote_id]
    assert {p["id"]: p["value"] for p in made["singleValueExtendedProperties"]} == {
        **theirs,
        MARKER_PROPERTY_ID: link.marker,
    }
    assert link.marker != old_link.marker
    assert {p["id"]: p["value"] for p in made.get("multiValueExtendedProperties", [])} == tags
    old = masters[old_id]
    assert {p["id"]: p["value"] for p in old["singleValueExtendedProperties"]} == theirs
    assert {p["id"]: p["value"] for p in old["multiValueExtendedProperties"]} == tags


def test_a_kept_property_the_helpdesk_owns_is_refused_in_the_sync_log_of_a_worker(
    importing_graph, graph, tomorrow_9, settings
):
    """A worker runs no system check: the providers refuse SYNC_KEPT_EXTENDED_PROPERTIES naming
    PidTagSubject (0x0037, first-class on Graph) at their first read, with the check's message in
    the calendar's sync log, and nothing is read with it; a plain ProviderError, not retried."""
    first = tomorrow_9.astimezone(UTC)
    graph.outlook_add(ALICE, first, first + HOUR, "Consultation")
    settings.SYNC_KEPT_EXTENDED_PROPERTIES = ["String 0x0037"]

    with pytest.raises(ProviderError) as refusal:
        pull(importing_graph)

    assert not isinstance(refusal.value, TransientError)
    assert "'String 0x0037' is PidTagSubject, which the helpdesk or Exchange owns" in str(refusal.value)
    importing_graph.refresh_from_db()
    assert importing_graph.last_error == str(refusal.value)
    assert list(SyncLogEntry.objects.filter(agent_calendar=importing_graph).values_list("result", "message")) == [
        (SyncLogEntry.Result.ERROR, str(refusal.value))
    ]
    assert not SyncLink.objects.exists()
