"""A series repeats on its own clock, not its technician's (trial fault 2): Exchange gets the series'
zone as StartTimeZone (a Windows id, read back through CLDR's table as icalendar ships it)."""

import pytest
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from tests.integrations.series import NEW_YORK_SERIES_START, series_on_another_clock

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def test_exchange_gets_the_series_zone_not_the_technicians(alice_exchange, ews, django_capture_on_commit_callbacks):
    # alice works in Europe/Amsterdam
    series_on_another_clock(alice_exchange.agent, django_capture_on_commit_callbacks)

    [series] = [item for item in ews.items(ALICE) if item.recurrence is not None]
    assert WINDOWS_TO_OLSON[series.start_tz] == "America/New_York"
    assert series.start == NEW_YORK_SERIES_START
