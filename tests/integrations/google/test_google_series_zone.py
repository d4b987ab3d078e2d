"""A series repeats on its own clock, not its technician's (trial fault 2): Google gets the series'
zone as start.timeZone (an IANA name, as the Calendar API documents it)."""

from datetime import datetime

import pytest

from tests.integrations.series import NEW_YORK_SERIES_START, series_on_another_clock

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def test_google_gets_the_series_zone_not_the_technicians(alice_google, google, django_capture_on_commit_callbacks):
    # alice works in Europe/Amsterdam
    series_on_another_clock(alice_google.agent, django_capture_on_commit_callbacks)

    [series] = [event for event in google.events(ALICE) if event.get("recurrence")]
    assert series["start"]["timeZone"] == "America/New_York"
    assert datetime.fromisoformat(series["start"]["dateTime"]) == NEW_YORK_SERIES_START
