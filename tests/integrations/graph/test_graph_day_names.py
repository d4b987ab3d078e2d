"""Graph's recurrencePattern.daysOfWeek holds only the seven dayOfWeek values (sunday to saturday;
Graph reference "recurrencePattern resource type"): it has no set value like EWS's `Weekday`. A
day name outside those seven is not silently dropped (which gave a weekly rule with fewer days, or
an empty BYDAY): the series is unreadable, saying which name, and nothing of it is lost."""

from datetime import UTC, datetime, timedelta

import pytest

from integrations.providers import registry
from integrations.providers.base import RemoteRef, UnreadableEntry

from .conftest import ALICE

pytestmark = pytest.mark.django_db

FIRST = datetime(2027, 1, 4, 9, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize("days", [["weekday"], ["monday", "weekendDay"]])
def test_a_day_name_graph_does_not_define_makes_the_series_unreadable_naming_it(alice_graph, graph, days):
    recurrence = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": days, "firstDayOfWeek": "monday"},
        "range": {"type": "numbered", "numberOfOccurrences": 10, "startDate": FIRST.date().isoformat()},
    }
    series = graph.outlook_add(ALICE, FIRST, FIRST + timedelta(hours=1), "Rota", recurrence=recurrence)
    provider = registry.build(alice_graph.connection)

    with pytest.raises(UnreadableEntry, match=rf"does not define: {days[-1]}\."):
        provider.get(provider.find_calendar(ALICE), RemoteRef(series["id"]))
