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
