"""Graph pages every collection ("Paging Microsoft Graph data": Outlook lists come 10 a page by default,
the rest behind `@odata.nextLink`); the provider reads them to the last page."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import MO, WEEKLY, rrule

from integrations.providers import registry
from integrations.providers.base import RemoteRef

from .conftest import ALICE

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
FIRST = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday
GRAPH_DEFAULT_PAGE = 10  # Microsoft Q&A 800560: "The Calendar API has a default page size of 10"


def _weekly_series(graph):
    recurrence = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"},
        "range": {"type": "noEnd", "startDate": FIRST.date().isoformat()},
    }
    return graph.outlook_add(ALICE, FIRST, FIRST + HOUR, "Weekly review", recurrence=recurrence)


def test_a_weekly_outlook_series_read_over_a_year_has_no_cancelled_dates_though_graph_pages_its_instances(
    alice_graph, graph
):
    """Review 2, fault 1: with the instances read from the first page only, 43 of the year's Mondays
    came out cancelled. The right occurrences: dateutil's weekly rule on Mondays over the year read."""
    graph.max_page_size = GRAPH_DEFAULT_PAGE
    series = _weekly_series(graph)
    provider = registry.build(alice_graph.connection)

    event = provider.get(provider.find_calendar(ALICE), RemoteRef(series["id"]))

    mondays = list(rrule(WEEKLY, byweekday=MO, dtstart=FIRST, until=FIRST + timedelta(days=365)))
    assert len(mondays) == 53
    assert event.exdates == []
    shown = graph.calendar_view(ALICE, FIRST - HOUR, FIRST + timedelta(days=365, hours=1))
    assert sorted(o["_start"] for o in shown) == mondays


def test_the_helpdesk_cancels_an_occurrence_beyond_graphs_first_page_of_instances(alice_graph, graph):
    """The write side of fault 1: a cancellation past the instances' first page was skipped ("No
    occurrence ... nothing to change there") and the entry stayed in Outlook."""
    graph.max_page_size = GRAPH_DEFAULT_PAGE
    series = _weekly_series(graph)
    provider = registry.build(alice_graph.connection)
    calendar = provider.find_calendar(ALICE)
    base = provider.get(calendar, RemoteRef(series["id"]))
    gone = [FIRST + timedelta(weeks=2), FIRST + timedelta(weeks=30)]

    provider.update(calendar, RemoteRef(series["id"], base.version), dataclasses.replace(base, exdates=gone), base=base)

    shown = {o["_start"] for o in graph.calendar_view(ALICE, FIRST - HOUR, FIRST + timedelta(days=365))}
    assert not shown & set(gone)
    assert FIRST + timedelta(weeks=29) in shown and FIRST + timedelta(weeks=31) in shown
    assert provider.get(calendar, RemoteRef(series["id"])).exdates == gone


def test_a_calendar_named_on_the_last_page_of_the_mailboxs_calendars_is_found(alice_graph, graph):
    graph.max_page_size = 3
    for number in range(7):
        graph.add_calendar(ALICE, f"Project {number}")
    provider = registry.build(alice_graph.connection)

    calendar = provider.find_calendar(ALICE, "Project 6")

    assert graph.mailboxes[ALICE].calendars[calendar.calendar_id] == "Project 6"
