"""A series stopped now reaches Microsoft 365 as one PATCH of the series master's recurrence
(range end date), no DELETE of an occurrence; what Outlook shows (the Graph server's own
calendar view) is the past the helpdesk keeps, the starts from dateutil."""

import pytest

from tests.integrations.series import check_stopped_as_rule_change, stop_a_pushed_series

from .conftest import ALICE
from .test_graph_series_moved import outlook_view

pytestmark = pytest.mark.django_db


def test_a_stopped_series_reaches_graph_as_a_rule_change(alice_graph, graph, django_capture_on_commit_callbacks):
    marks = []
    _master, kept, window = stop_a_pushed_series(
        alice_graph,
        django_capture_on_commit_callbacks,
        lambda: marks.extend((len(graph.requests), len(graph.batch_items))),
    )

    direct = [(method, path) for method, path, _ in graph.requests[marks[0] :] if "/events" in path]
    calls = direct + [item[:2] for item in graph.batch_items[marks[1] :]]
    updates, deletes = [c for c in calls if c[0] == "PATCH"], [c for c in calls if c[0] == "DELETE"]
    check_stopped_as_rule_change(updates, deletes, outlook_view(graph, *window), kept, window)
    assert len(graph.events(ALICE)) == 1
