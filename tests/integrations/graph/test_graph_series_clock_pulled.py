"""A Graph series whose zone changed in Outlook (review 8 F1, F2): a zone the reader cannot name
(Graph's "tzone://Microsoft/Custom", read as UTC) moves nothing, and a zone changed at the same instants
keeps the instants. Expected: the peer's own calendarView of the series."""

from datetime import timedelta

import pytest

from calendars.models import Appointment
from integrations.sync import engine
from tests.integrations.series import make_daily_series

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def test_outlook_rename_of_a_series_in_a_custom_zone_keeps_its_times(alice_graph, graph, tomorrow_9):
    master = make_daily_series(alice_graph.agent, tomorrow_9)
    engine.sync_agent_calendar(alice_graph, pull=False)
    (event,) = graph.events(ALICE)
    window = (tomorrow_9 - timedelta(hours=1), tomorrow_9 + timedelta(days=5))
    before = [o["_start"] for o in graph.calendar_view(ALICE, *window)]
    # Outlook desktop saves the series with its own (custom) zone: Graph then names it so
    # (documented value of originalStartTimeZone); the pattern still repeats on W. Europe's clock.
    with graph.lock:
        stored = graph.mailboxes[ALICE.lower()].events[event["id"]]
        stored["recurrence"]["range"]["recurrenceTimeZone"] = stored["originalStartTimeZone"]
        stored["originalStartTimeZone"] = "tzone://Microsoft/Custom"
    graph.outlook_edit(ALICE, event["id"], subject="S1 renamed in Outlook")
    engine.sync_agent_calendar(alice_graph, pull=True)
    engine.sync_agent_calendar(alice_graph, pull=True)

    master.refresh_from_db()
    occurrences = list(Appointment.objects.visible().filter(master=master).order_by("start"))
    assert str(master.schedule.time_zone) == "Europe/Amsterdam"
    assert [o.start for o in occurrences] == before


def test_outlook_puts_a_series_on_another_clock_at_the_same_instant(alice_graph, graph, tomorrow_9):
    """The organiser changes the series' zone to New York keeping its instants (03:00 there):
    Graph's start instant is unchanged, only the zone is new."""
    master = make_daily_series(alice_graph.agent, tomorrow_9)
    engine.sync_agent_calendar(alice_graph, pull=False)
    (event,) = graph.events(ALICE)
    window = (tomorrow_9 - timedelta(hours=1), tomorrow_9 + timedelta(days=5))
    with graph.lock:
        stored = graph.mailboxes[ALICE.lower()].events[event["id"]]
        stored["originalStartTimeZone"] = "Eastern Standard Time"
        stored["originalEndTimeZone"] = "Eastern Standard Time"
        stored["recurrence"]["range"]["recurrenceTimeZone"] = "Eastern Standard Time"
    graph.outlook_edit(ALICE, event["id"], subject="S1 on New York time")
    server = [o["_start"] for o in graph.calendar_view(ALICE, *window)]
    engine.sync_agent_calendar(alice_graph, pull=True)

    master.refresh_from_db()
    occurrences = list(Appointment.objects.visible().filter(master=master).order_by("start"))
    assert [o.start for o in occurrences] == server
