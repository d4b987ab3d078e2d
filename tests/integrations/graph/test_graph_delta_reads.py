"""What a Graph pull reads when the delta names an occurrence the helpdesk holds no link for.

Graph's calendarView delta reports an occurrence deleted in Outlook as `@removed` with the
occurrence's own id and nothing of its series (Graph "event: delta", calendarView); only a series
has occurrences, so only the series the helpdesk holds are asked whether they changed, never each
single entry (Graph JSON batching: 20 to a $batch)."""

from datetime import UTC, timedelta

import pytest

from calendars.models import Appointment
from integrations.models import SyncLink
from tests.integrations.series import make_weekly_series
from tests.integrations.test_caldav_sync import make, pull

from .conftest import ALICE
from .test_graph_shared import occurrence_id

pytestmark = pytest.mark.django_db


def test_an_occurrence_cancelled_in_outlook_asks_the_series_not_every_single_entry(
    alice_graph, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    master = make_weekly_series(alice_graph.agent, tomorrow_9, django_capture_on_commit_callbacks)
    singles = [
        make(alice_graph.agent, tomorrow_9 + timedelta(days=n, hours=3), django_capture_on_commit_callbacks)
        for n in range(25)
    ]
    pull(alice_graph)
    pull(alice_graph)
    single_ids = set(SyncLink.objects.filter(appointment__in=singles).values_list("remote_id", flat=True))
    series_id = SyncLink.objects.get(appointment=master).remote_id
    fourth = master.occurrences.order_by("original_start")[3]
    mark = len(graph.batch_items)

    graph.outlook_delete(ALICE, occurrence_id(series_id, fourth.original_start.astimezone(UTC)))
    pull(alice_graph)

    read = [path.rsplit("/", 1)[-1] for method, path in graph.batch_items[mark:] if method == "GET"]
    assert single_ids.isdisjoint(read), f"{len(single_ids & set(read))} single entries read one by one"
    assert series_id in read
    assert not Appointment.objects.visible().filter(pk=fourth.pk).exists()
