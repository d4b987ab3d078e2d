"""A Google calendar the admin names by its title is found ignoring case among the technician's
calendars (calendar v3 CalendarList: list, `summary`), as CalDAV's, Microsoft 365's and Exchange's
are (tests/integrations/test_calendar_names.py); several matching, or none, are refused naming the
calendars. A name with an @ is a calendar id, read with calendars.get as before."""

import pytest

from integrations import services
from integrations.providers.base import ConnectionProblem
from tests.integrations.google.conftest import ALICE

pytestmark = pytest.mark.django_db


def test_google_calendar_title_matches_ignoring_case(alice, google_connection, google):
    jobs = google.add_calendar(ALICE, "Helpdesk Jobs")

    link = services.connect_agent(alice, connection=google_connection, calendar="helpdesk jobs")

    assert link.calendar_id == jobs


def test_google_two_calendars_matching_a_title_are_refused(alice, google_connection, google):
    google.add_calendar(ALICE, "Jobs")
    google.add_calendar(ALICE, "JOBS")

    with pytest.raises(ConnectionProblem, match=r"2 calendars of alice@example\.com on Google match 'jobs'"):
        services.connect_agent(alice, connection=google_connection, calendar="jobs")


def test_google_a_title_no_calendar_has_is_refused_naming_those_there_are(alice, google_connection, google):
    google.add_calendar(ALICE, "Jobs")

    with pytest.raises(ConnectionProblem, match=r"its calendars are 'alice@example\.com', 'Jobs'"):
        services.connect_agent(alice, connection=google_connection, calendar="Rota")


def test_google_a_calendar_id_is_still_taken_as_given(alice, google_connection, google):
    jobs = google.add_calendar(ALICE, "Jobs")

    assert services.connect_agent(alice, connection=google_connection, calendar=jobs).calendar_id == jobs


def test_google_a_title_on_the_second_page_of_the_calendar_list_is_found(alice, google_connection, google):
    # CalendarList: list gives 100 entries a page by default (calendar v3 reference); the 101st
    # calendar is on the page its nextPageToken names.
    for number in range(100):
        google.add_calendar(ALICE, f"Team {number:03}")
    jobs = google.add_calendar(ALICE, "Helpdesk Jobs")

    link = services.connect_agent(alice, connection=google_connection, calendar="helpdesk jobs")

    assert link.calendar_id == jobs
