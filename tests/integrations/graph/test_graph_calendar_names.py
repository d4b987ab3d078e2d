"""Microsoft 365 calendars named by the admin are found ignoring case; several matching, or none,
are refused naming the calendars (as CalDAV's, tests/integrations/test_calendar_names.py)."""

import pytest

from integrations import services
from integrations.providers.base import ConnectionProblem
from tests.integrations.graph.conftest import ALICE

pytestmark = pytest.mark.django_db


def test_graph_calendar_name_matches_ignoring_case(alice, graph_connection, graph):
    team = graph.add_calendar(ALICE, "Helpdesk Jobs")

    link = services.connect_agent(alice, connection=graph_connection, calendar="helpdesk jobs")

    assert link.calendar_id == team


def test_graph_two_calendars_matching_a_name_are_refused(alice, graph_connection, graph):
    graph.add_calendar(ALICE, "Jobs")
    graph.add_calendar(ALICE, "JOBS")

    with pytest.raises(ConnectionProblem, match=r"2 calendars of alice@example.com on Microsoft 365 match 'jobs'"):
        services.connect_agent(alice, connection=graph_connection, calendar="jobs")


def test_graph_a_name_no_calendar_has_is_refused_naming_those_there_are(alice, graph_connection, graph):
    graph.add_calendar(ALICE, "Jobs")

    with pytest.raises(ConnectionProblem, match=r"its calendars are 'Calendar', 'Jobs'"):
        services.connect_agent(alice, connection=graph_connection, calendar="Rota")
