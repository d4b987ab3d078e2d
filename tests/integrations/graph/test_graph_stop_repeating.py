"""A series stopped now reaches Microsoft 365 as one PATCH of the series master's recurrence
(range end date), no DELETE of an occurrence; what Outlook shows (the Graph server's own
calendar view) is the past the helpdesk keeps, the starts from dateutil."""

import pytest

from tests.integrations.series import check_stopped_as_rule_change, stop_a_pushed_series

from .conftest import ALICE
from .test_graph_series_moved import outlook_view

pytestmark = pytest.mark.django_db


def test_a_stopped_series_reaches_graph_as_a_rule_change(alice_graph, graph, django_capture_on_commit_callbacks):
    kept, window, (sent, batched) = stop_a_pushed_series(
        alice_graph, django_capture_on_commit_callbacks, graph.requests, graph.batch_items
    )

    calls = [(method, path) for method, path, _ in sent if "/events" in path] + [item[:2] for item in batched]
    updates, deletes = [c for c in calls if c[0] == "PATCH"], [c for c in calls if c[0] == "DELETE"]
    check_stopped_as_rule_change(updates, deletes, outlook_view(graph, *window), kept, window)
    assert len(graph.events(ALICE)) == 1
