"""A Google calendar named by its id (an address with an @) is read with calendars.get as given;
a name by its title is matched ignoring case like every connector's, in
tests/integrations/test_calendar_names.py."""

import pytest

from integrations import services
from tests.integrations.google.conftest import ALICE

pytestmark = pytest.mark.django_db


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
