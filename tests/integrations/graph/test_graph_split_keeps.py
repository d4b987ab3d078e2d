"""A "this and following" change made in the helpdesk on a series made in Outlook: the new half,
created by the helpdesk, starts from the old half's event as Microsoft 365 returned it, as Outlook's
own split keeps the event's properties on the new series; read back from the local Graph server."""

from datetime import UTC, timedelta

import pytest

from integrations.models import SyncLink
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
