"""A series stopped now reaches Microsoft 365 as one PATCH of the series master's recurrence
(range end date), no DELETE of an occurrence; what Outlook shows (the Graph server's own
calendar view) is the past the helpdesk keeps, the starts from dateutil."""

import pytest

from tests.integrations.series import helpdesk_view_utc, kept_view, stop_a_pushed_series

from .conftest import ALICE
from .test_graph_series_moved import outlook_view

pytestmark = pytest.mark.django_db


def test_a_stopped_series_reaches_graph_as_a_rule_change(alice_graph, graph, django_capture_on_commit_callbacks):
    mark = []
    _master, kept, window = stop_a_pushed_series(
        alice_graph,
        django_capture_on_commit_callbacks,
        lambda: mark.append((len(graph.requests), len(graph.batch_items))),
    )

    direct = [(method, path) for method, path, _ in graph.requests[mark[0][0] :] if "/events" in path]
    batched = [item[:2] for item in graph.batch_items[mark[0][1] :]]
    assert not [call for call in direct + batched if call[0] == "DELETE"], (direct, batched)
    assert len([call for call in direct + batched if call[0] == "PATCH"]) == 1, (direct, batched)
    assert outlook_view(graph, *window) == kept_view(kept) == helpdesk_view_utc(*window)
    assert len(graph.events(ALICE)) == 1
