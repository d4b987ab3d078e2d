"""A series repeats on its own clock, not its technician's (trial fault 2): Graph gets the series'
zone as start.timeZone (a Windows id, read back through CLDR's table as icalendar ships it)."""

import pytest
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from tests.integrations.series import NEW_YORK_SERIES_START, series_on_another_clock

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def test_graph_gets_the_series_zone_not_the_technicians(alice_graph, graph, django_capture_on_commit_callbacks):
    # alice works in Europe/Amsterdam
    series_on_another_clock(alice_graph.agent, django_capture_on_commit_callbacks)

    [series] = [event for event in graph.events(ALICE) if event.get("type") == "seriesMaster"]
    assert WINDOWS_TO_OLSON[series["originalStartTimeZone"]] == "America/New_York"
    assert WINDOWS_TO_OLSON[
        series["recurrence"]["range"].get("recurrenceTimeZone", series["originalStartTimeZone"])
    ] == ("America/New_York")
    assert series["_start"] == NEW_YORK_SERIES_START
