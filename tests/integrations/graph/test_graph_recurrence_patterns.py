"""RRULE <-> Microsoft recurrence patterns on Microsoft 365 (review 2, faults 4, 5, 6). The right
occurrences come from dateutil's RFC 5545 expansion; the peer expands what Graph holds by the
recurrencePattern resource type."""

from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr

from integrations.providers import registry
from integrations.providers.base import ProviderError, RemoteEvent, RemoteRef

from .conftest import ALICE

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
FIRST = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)  # a Sunday
YEAR = timedelta(days=365)


def _dateutil_starts(rule: str, first: datetime = FIRST) -> list[datetime]:
    return list(rrulestr(rule, dtstart=first).between(first - HOUR, first + YEAR, inc=True))


def _server_starts(graph) -> list[datetime]:
    return sorted(o["_start"] for o in graph.calendar_view(ALICE, FIRST - HOUR, FIRST + YEAR + HOUR))


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",  # every weekday: a weekly pattern, weekends left out
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1",  # the first weekday of the month
        "FREQ=MONTHLY;BYDAY=SA,SU;BYSETPOS=-1",  # the last weekend day of the month
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,MO;WKST=SU",  # weeks counted from Sunday
        "FREQ=YEARLY;BYMONTH=3;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=2",
    ],
)
def test_a_helpdesk_series_is_written_to_microsoft_365_with_the_occurrences_its_rule_gives(alice_graph, graph, rule):
    provider = registry.build(alice_graph.connection)
    calendar = provider.find_calendar(ALICE)
    event = RemoteEvent(start=FIRST, end=FIRST + HOUR, subject="Rota", rrules=[rule], time_zone="UTC")

    ref = provider.create(calendar, event)

    assert _server_starts(graph) == _dateutil_starts(rule)
    read = provider.get(calendar, RemoteRef(ref.remote_id), window=None)
    assert read.exdates == []
    assert _dateutil_starts(read.rrules[0]) == _dateutil_starts(rule)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (
            {
                "type": "relativeMonthly",
                "interval": 1,
                "index": "first",
                "firstDayOfWeek": "sunday",
                "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            },
            "Outlook's 'first weekday of the month', fault 4",
        ),
        (
            {"type": "weekly", "interval": 2, "daysOfWeek": ["sunday", "monday"], "firstDayOfWeek": "sunday"},
            "every 2 weeks on Sunday and Monday, weeks from Sunday, fault 5",
        ),
    ],
)
def test_an_outlook_series_reads_with_the_occurrences_outlook_shows_and_none_cancelled(
    alice_graph, graph, pattern, why
):
    recurrence = {"pattern": pattern, "range": {"type": "noEnd", "startDate": FIRST.date().isoformat()}}
    start = FIRST + timedelta(days=1)  # Monday 7 December, an occurrence of both
    series = graph.outlook_add(ALICE, start, start + HOUR, why, recurrence=recurrence)
    provider = registry.build(alice_graph.connection)

    event = provider.get(provider.find_calendar(ALICE), RemoteRef(series["id"]))

    assert event.exdates == [], why
    assert _dateutil_starts(event.rrules[0], start) == _server_starts(graph), why


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ("FREQ=MONTHLY;BYDAY=MO", "every MO of the month"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY"),
        ("FREQ=YEARLY;BYMONTH=1,7", "BYMONTH"),
        ("FREQ=WEEKLY;BYHOUR=9,15", "BYHOUR"),
        ("FREQ=MONTHLY;BYDAY=5FR", "position 5"),
    ],
)
def test_a_rule_no_microsoft_pattern_says_is_refused_with_its_reason(alice_graph, graph, rule, named):
    provider = registry.build(alice_graph.connection)
    event = RemoteEvent(start=FIRST, end=FIRST + HOUR, subject="Rota", rrules=[rule], time_zone="UTC")

    with pytest.raises(ProviderError, match="Microsoft 365 cannot hold") as refused:
        provider.create(provider.find_calendar(ALICE), event)

    assert named in str(refused.value)
    assert graph.events(ALICE) == []
