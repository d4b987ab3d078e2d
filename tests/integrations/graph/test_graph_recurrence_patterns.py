"""RRULE <-> Microsoft recurrence patterns on Microsoft 365 (review 2, faults 4, 5, 6). The cases
are tests/integrations/microsoft_patterns.py; the right occurrences come from dateutil's RFC 5545
expansion; the peer expands what Graph holds by the recurrencePattern resource type."""

import pytest

from integrations.providers import registry
from integrations.providers.base import ProviderError, RemoteEvent, RemoteRef
from tests.integrations.microsoft_patterns import (
    FIRSTS,
    HOUR,
    REFUSED,
    WRITABLE,
    WRITABLE_ON_GRAPH_ONLY,
    YEAR,
    dateutil_starts,
)

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def _server_starts(graph, first) -> list:
    return sorted(o["_start"] for o in graph.calendar_view(ALICE, first - HOUR, first + YEAR + HOUR))


@pytest.mark.parametrize("first", FIRSTS)
@pytest.mark.parametrize("case", WRITABLE + WRITABLE_ON_GRAPH_ONLY)
def test_a_helpdesk_series_is_written_to_microsoft_365_with_the_occurrences_its_rule_gives(
    alice_graph, graph, case, first
):
    provider = registry.build(alice_graph.connection)
    calendar = provider.find_calendar(ALICE)
    event = RemoteEvent(start=first, end=first + HOUR, subject="Rota", rrules=[case.rule], time_zone="UTC")

    ref = provider.create(calendar, event)

    assert _server_starts(graph, first) == dateutil_starts(case.rule, first)
    read = provider.get(calendar, RemoteRef(ref.remote_id), window=None)
    assert read.exdates == []
    assert dateutil_starts(read.rrules[0], first) == dateutil_starts(case.rule, first)


@pytest.mark.parametrize("first", FIRSTS)
@pytest.mark.parametrize("case", WRITABLE + WRITABLE_ON_GRAPH_ONLY)
def test_an_outlook_series_reads_with_the_occurrences_outlook_shows_and_none_cancelled(alice_graph, graph, case, first):
    recurrence = {"pattern": case.graph, "range": {"type": "noEnd", "startDate": first.date().isoformat()}}
    series = graph.outlook_add(ALICE, first, first + HOUR, case.why or case.rule, recurrence=recurrence)
    provider = registry.build(alice_graph.connection)

    event = provider.get(provider.find_calendar(ALICE), RemoteRef(series["id"]))

    assert event.exdates == []
    assert dateutil_starts(event.rrules[0], event.start) == dateutil_starts(case.rule, first)


@pytest.mark.parametrize(("rule", "named"), REFUSED)
def test_a_rule_no_microsoft_pattern_says_is_refused_with_its_reason(alice_graph, graph, rule, named):
    first = FIRSTS[0].values[0]
    provider = registry.build(alice_graph.connection)
    event = RemoteEvent(start=first, end=first + HOUR, subject="Rota", rrules=[rule], time_zone="UTC")

    with pytest.raises(ProviderError, match="Microsoft 365 cannot hold") as refused:
        provider.create(provider.find_calendar(ALICE), event)

    assert named in str(refused.value)
    assert graph.events(ALICE) == []
