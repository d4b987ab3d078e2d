"""Review finding 6: a cancellation or edit the helpdesk holds on a day Graph's pattern does not give
has no instance in Graph (`/events/{id}/instances` lists only the pattern's occurrences), so there is
nothing to change there: it is logged and skipped, not a VersionConflict that would send every push
of the series round the conflict path again. An occurrence the series as last read did give and
Outlook no longer has is still a conflict."""

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import MO, WEEKLY, rrule

from integrations.providers import registry
from integrations.providers.base import RemoteRef, VersionConflict

from .conftest import ALICE

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
FIRST = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday


def _weekly_series(graph):
    recurrence = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"},
        "range": {"type": "numbered", "startDate": FIRST.date().isoformat(), "numberOfOccurrences": 6},
    }
    return graph.outlook_add(ALICE, FIRST, FIRST + HOUR, "Weekly review", recurrence=recurrence)


def test_a_cancellation_on_a_day_the_pattern_does_not_give_is_skipped_not_a_conflict(alice_graph, graph, caplog):
    series = _weekly_series(graph)
    provider = registry.build(alice_graph.connection)
    calendar = provider.find_calendar(ALICE)
    base = provider.get(calendar, RemoteRef(series["id"]))
    a_tuesday = FIRST + timedelta(weeks=1, days=1)  # the weekly Monday pattern never gives it
    gone_monday = FIRST + timedelta(weeks=2)
    wanted = dataclasses.replace(base, exdates=[a_tuesday, gone_monday])

    with caplog.at_level(logging.INFO, logger="integrations"):
        provider.update(calendar, RemoteRef(series["id"], base.version), wanted, base=base)

    # What Outlook shows: dateutil's six Mondays less the one cancelled.
    mondays = list(rrule(WEEKLY, byweekday=MO, dtstart=FIRST, count=6))
    shown = sorted(o["_start"] for o in graph.calendar_view(ALICE, FIRST - HOUR, FIRST + timedelta(weeks=7)))
    assert shown == [m for m in mondays if m != gone_monday]
    assert any("nothing to change there" in record.getMessage() for record in caplog.records)


def test_an_occurrence_outlook_no_longer_has_is_still_a_conflict(alice_graph, graph):
    series = _weekly_series(graph)
    provider = registry.build(alice_graph.connection)
    calendar = provider.find_calendar(ALICE)
    base = provider.get(calendar, RemoteRef(series["id"]))
    third = FIRST + timedelta(weeks=2)
    (instance,) = [o for o in graph.calendar_view(ALICE, third - HOUR, third + HOUR) if o["_start"] == third]
    graph.outlook_delete(ALICE, instance["id"])  # cancelled in Outlook since we read the series
    fresh = provider.get(calendar, RemoteRef(series["id"]))
    renamed = dataclasses.replace(base, exdates=[third])

    with pytest.raises(VersionConflict):
        provider.update(calendar, RemoteRef(series["id"], fresh.version), renamed, base=base)
